"""A user's own config folder, composed with the package's configs (docs/CONFIG.md)."""

from __future__ import annotations

from pathlib import Path

USER_CONFIGS = {
    "experiment/my_synthetic.yaml": """\
# @package _global_
# The package's synthetic experiment on the user's own variant of its data.
defaults:
  - synthetic
  - override /data: my_synthetic
experiment_name: my_synthetic
""",
    "data/my_synthetic.yaml": """\
defaults:
  - synthetic
  - _self_
colour_jitter: 0.1
""",
    "paths/my_cluster.yaml": """\
defaults:
  - default
  - _self_
data_dir: {data_dir}
""",
    "hydra/launcher/my_launcher.yaml": """\
# Hydra's basic launcher (the jobs of a multirun one after the other) under the user's name.
defaults:
  - basic
""",
}


def write_user_configs(folder: Path, data_dir: Path) -> Path:
    """Write a user's config folder into ``folder``: ``experiment=my_synthetic`` (the package's
    ``synthetic`` on ``data=my_synthetic``, its data with ``colour_jitter: 0.1``),
    ``paths=my_cluster`` (``data_dir`` set, the rest the package's) and
    ``hydra/launcher=my_launcher``; returns ``folder``."""
    for name, text in USER_CONFIGS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(data_dir=data_dir))
    return folder
