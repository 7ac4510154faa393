"""A user's own folder of ``experiment/``, ``data/``, ``paths/`` and ``hydra/launcher/`` files
composes with the package's configs through ``hydra.searchpath`` (tests/test_wheel.py trains
with one through ``--config-dir``)."""

from pathlib import Path

import pytest

from dis_seg import PROJECT_ROOT
from tests.helpers import write_user_configs


@pytest.fixture
def compose_with_user_folder(compose):
    """``compose_with_user_folder(folder, *overrides)``: ``conf/train.yaml`` composed with
    ``folder`` on the config search path."""
    return lambda folder, *overrides: compose(
        "train", f"hydra.searchpath=[file://{folder}]", *overrides, hydra=True
    )


@pytest.fixture
def user_folder(tmp_path) -> Path:
    return write_user_configs(tmp_path / "my_conf", data_dir=tmp_path / "shared" / "data")


def test_user_experiment_data_and_paths_compose_over_the_package_configs(
    user_folder, tmp_path, compose_with_user_folder
):
    cfg = compose_with_user_folder(user_folder, "experiment=my_synthetic", "paths=my_cluster")
    assert cfg.run_name == "my_synthetic"
    assert cfg.data.colour_jitter == 0.1
    assert cfg.data.voc_root == f"{tmp_path}/shared/data/synthetic/VOC2012"
    assert cfg.optimizer.name == "adamw"  # from the package's experiment/synthetic.yaml
    assert Path(cfg.paths.output_root) == PROJECT_ROOT / "outputs"  # from paths/default.yaml
    assert cfg.hydra.run.dir == f"{PROJECT_ROOT}/outputs/my_synthetic/stage1"


def test_user_launcher_is_selectable_as_hydra_launcher(user_folder, compose_with_user_folder):
    cfg = compose_with_user_folder(user_folder, "hydra/launcher=my_launcher")
    assert cfg.hydra.launcher._target_.endswith("BasicLauncher")


def test_package_configs_come_first_so_a_user_file_of_the_same_name_is_not_used(
    user_folder, compose_with_user_folder
):
    (user_folder / "experiment" / "voc.yaml").write_text("# @package _global_\nseed: 123\n")
    cfg = compose_with_user_folder(user_folder, "experiment=voc")
    assert cfg.run_name == "voc"
    assert cfg.seed == 0
