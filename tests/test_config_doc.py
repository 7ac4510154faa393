"""The defaults that docs/CONFIG.md states are those of the composed configs (``--cfg job``)."""

import re

import pytest
import yaml
from omegaconf import OmegaConf

from tests.helpers import REPO

ROW = re.compile(r"^\| (`[^|]*`) \| (`[^|]*) \|", re.MULTILINE)
CODE = re.compile(r"`([^`]*)`")
OTHER_EXPERIMENTS = re.compile(r"\(`([^`]*)` ([a-z_, ]+)\)")


def documented_defaults(section: str) -> list[tuple[str, str, str | None]]:
    """(key, default, experiment or None) of every row of the section's table of
    docs/CONFIG.md whose default is code: one per key of the row, and one per experiment
    named in brackets."""
    text = (REPO / "docs" / "CONFIG.md").read_text().split(f"## {section}")[1].split("\n## ")[0]
    rows = []
    for keys, defaults in ROW.findall(text):
        keys = CODE.findall(keys)
        values = CODE.findall(defaults.split("(")[0])
        assert len(keys) == len(values), (keys, values)
        rows += [(key, value, None) for key, value in zip(keys, values, strict=True)]
        for value, experiments in OTHER_EXPERIMENTS.findall(defaults):
            rows += [(keys[0], value, name.strip()) for name in experiments.split(",")]
    return rows


def value_of(cfg, key: str):
    """A key's value, or the chosen option of a config group."""
    if key in cfg.hydra.runtime.choices:
        return cfg.hydra.runtime.choices[key]
    return OmegaConf.select(cfg, key, throw_on_missing=False)


@pytest.mark.parametrize(
    ("section", "config_name", "required"),
    [
        ("Top-level keys", "train", ()),
        ("Labelled images and tag noise", "train", ()),
        ("Prediction", "predict", ("ckpt_path=x", "input_dir=x", "output_dir=x")),
    ],
)
def test_documented_defaults_are_those_of_the_composed_config(
    section, config_name, required, compose
):
    rows = documented_defaults(section)
    assert len(rows) >= 8
    configs = {}  # one composition per experiment
    for key, default, experiment in rows:
        if experiment not in configs:
            overrides = [*required, *([f"experiment={experiment}"] if experiment else [])]
            configs[experiment] = compose(config_name, *overrides, hydra=True)
        expected = yaml.safe_load(default)
        assert value_of(configs[experiment], key) == expected, (key, experiment)
