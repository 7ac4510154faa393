"""Data and outputs live under the project root whatever the working directory, unless
``PROJECT_ROOT`` or ``paths.*`` say otherwise."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dis_seg import PROJECT_ROOT
from tests.helpers import CHECKOUT_ENV, ENV, REPO


@pytest.fixture
def composed_paths(compose, monkeypatch):
    """``composed_paths(cwd, config, *overrides, env=None)``: ``paths.data_dir``,
    ``paths.output_root`` and ``hydra.run.dir`` of ``config`` composed in the working directory
    ``cwd``, with no environment variable of ``conf/paths`` set but those of ``env``."""

    def paths(cwd: Path, config: str, *overrides: str, env: dict | None = None) -> dict:
        monkeypatch.chdir(cwd)
        for name in ("PROJECT_ROOT", "DIS_DATA_DIR", "DIS_OUTPUT_DIR"):
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        cfg = compose(config, *overrides, hydra=True)
        return {
            "data_dir": Path(cfg.paths.data_dir),
            "output_root": Path(cfg.paths.output_root),
            "run_dir": Path(cfg.hydra.run.dir),
        }

    return paths


def test_project_root_is_the_folder_of_conf_and_pyproject():
    assert PROJECT_ROOT == REPO
    assert (PROJECT_ROOT / "conf" / "train.yaml").is_file()
    assert (PROJECT_ROOT / "pyproject.toml").is_file()


@pytest.mark.parametrize(
    ("config", "overrides"), [("train", []), ("evaluate", ["ckpt_path=x.ckpt"])]
)
def test_compose_from_another_folder_puts_data_and_outputs_under_the_project_root(
    tmp_path, config, overrides, composed_paths
):
    paths = composed_paths(tmp_path, config, *overrides)
    assert paths["data_dir"] == PROJECT_ROOT / "data"
    assert paths["output_root"] == PROJECT_ROOT / "outputs"
    assert paths["run_dir"].is_relative_to(PROJECT_ROOT / "outputs")


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [["dis_seg.cli.train"], ["dis_seg.cli.evaluate", "ckpt_path=x.ckpt"]],
    ids=["train", "evaluate"],
)
def test_entry_points_started_in_another_folder_use_paths_under_the_project_root(tmp_path, command):
    result = subprocess.run(
        [sys.executable, "-m", *command, "--cfg", "job", "--resolve", "--package", "paths"],
        cwd=tmp_path,
        env=CHECKOUT_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    paths = yaml.safe_load(result.stdout)
    assert Path(paths["root_dir"]) == PROJECT_ROOT
    assert Path(paths["data_dir"]) == PROJECT_ROOT / "data"
    assert Path(paths["output_root"]) == PROJECT_ROOT / "outputs"


def test_project_root_environment_variable_moves_data_and_outputs(tmp_path, composed_paths):
    root = tmp_path / "elsewhere"
    paths = composed_paths(tmp_path, "train", env={"PROJECT_ROOT": str(root)})
    assert paths["data_dir"] == root / "data"
    assert paths["output_root"] == root / "outputs"
    assert paths["run_dir"] == root / "outputs" / "synthetic" / "stage1"


def test_paths_overrides_move_data_and_outputs(tmp_path, composed_paths):
    root = tmp_path / "elsewhere"
    paths = composed_paths(tmp_path, "train", f"paths.root_dir={root}")
    assert (paths["data_dir"], paths["output_root"]) == (root / "data", root / "outputs")
    paths = composed_paths(
        tmp_path, "train", f"paths.data_dir={root / 'd'}", f"paths.output_root={root / 'o'}"
    )
    assert (paths["data_dir"], paths["output_root"]) == (root / "d", root / "o")


@pytest.mark.skipif(
    shutil.which("git", path=ENV["PATH"]) is None or not (REPO / ".git").exists(),
    reason="needs git and a git checkout",
)
def test_gitignore_covers_data_outputs_and_build_folders_but_not_the_data_sources():
    ignored = ["data/x", "outputs/x", "build/x", "notebooks/data/x", "notebooks/outputs/x"]
    sources = ["src/dis_seg/data/x.py", "tests/data/x.py", "conf/data/x.yaml"]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=REPO,
        input="\n".join(ignored + sources),
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ignored
