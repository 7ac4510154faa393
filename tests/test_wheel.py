"""The wheel carries ``conf/`` and runs outside the checkout: built once per test session,
installed into a fresh virtual environment that reuses this environment's dependencies but not
its editable ``dis_seg``, and started from a folder outside the checkout."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.helpers import ENV, REPO, write_user_configs

pytestmark = pytest.mark.slow  # builds a wheel and installs it into a virtual environment

EXPERIMENTS = sorted(path.stem for path in (REPO / "conf" / "experiment").glob("*.yaml"))
INSTALLED = """
import contextlib, io, json, sys
from importlib.metadata import distribution

import dis_seg

points = distribution("dis-seg").entry_points
scripts = {point.name: point.load() for point in points if point.group == "console_scripts"}
configs = {}
for experiment in sys.argv[1:]:
    sys.argv = ["dis-seg-train", f"experiment={experiment}", "--cfg", "job", "--resolve"]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        scripts["dis-seg-train"]()
    configs[experiment] = printed.getvalue()
paths = [dis_seg.__file__, dis_seg.CONFIG_DIR, str(dis_seg.PROJECT_ROOT)]
print(json.dumps({"paths": paths, "scripts": sorted(scripts), "configs": configs}))
"""


def run(command: list, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``command``; a failure shows its output."""
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=ENV, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise AssertionError(f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def yaml_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*.yaml"))


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, built without network from a copy of its sources (so that
    the build writes nothing into the checkout)."""
    sources = tmp_path_factory.mktemp("sources")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, sources)
    for name in ("src", "conf"):
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(REPO / name, sources / name, symlinks=True, ignore=ignore)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
    run([sys.executable, "-m", "pip", *pip_wheel, "--wheel-dir", dist, sources])
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; a ``.pth`` file adds this
    environment's site-packages (its dependencies) without processing their ``.pth`` files, so
    the checkout's editable ``dis_seg`` stays out of it."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    purelib = Path(sysconfig.get_path("purelib", vars={"base": venv, "platbase": venv}))
    (purelib / "project_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    python = venv / "bin" / "python"
    install = ["install", "--no-deps", "--no-index", "--quiet"]
    run([sys.executable, "-m", "pip", "--python", python, *install, wheel])
    return venv


@pytest.fixture(scope="module")
def installed(venv, tmp_path_factory) -> dict:
    """What the installed package reports in one Python process started outside the checkout:
    ``paths`` (``dis_seg.__file__``, ``CONFIG_DIR``, ``PROJECT_ROOT``), its console
    ``scripts`` (each loaded) and the ``configs`` of ``dis-seg-train experiment=E --cfg job
    --resolve`` for every experiment E; ``outside``: the folder it started in."""
    outside = tmp_path_factory.mktemp("outside")
    result = run([venv / "bin" / "python", "-c", INSTALLED, *EXPERIMENTS], cwd=outside)
    return {"outside": outside, **json.loads(result.stdout)}


def test_installed_package_finds_its_conf_inside_itself_and_roots_data_at_the_working_folder(
    venv, installed
):
    module, config_dir, project_root = map(Path, installed["paths"])
    assert module.is_relative_to(venv)
    assert config_dir == module.parent / "conf"
    assert yaml_files(config_dir) == yaml_files(REPO / "conf")
    assert project_root == installed["outside"]


def test_every_console_script_is_installed_and_loads_its_main(venv, installed):
    assert {"dis-seg-train", "dis-seg-dashboard"} <= set(installed["scripts"])
    assert [name for name in installed["scripts"] if not (venv / "bin" / name).is_file()] == []


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_outside_the_checkout(installed, experiment):
    cfg = yaml.safe_load(installed["configs"][experiment])
    assert cfg["experiment_name"] == experiment
    assert Path(cfg["paths"]["root_dir"]) == installed["outside"]
    assert Path(cfg["paths"]["output_root"]) == installed["outside"] / "outputs"


def test_two_step_training_outside_the_checkout_uses_a_user_config_folder(venv, tmp_path):
    outside = tmp_path / "work"
    outside.mkdir()
    data_dir = tmp_path / "shared" / "data"
    user_folder = write_user_configs(tmp_path / "my_conf", data_dir=data_dir)
    train = [venv / "bin" / "dis-seg-train", "--config-dir", user_folder]
    overrides = ["experiment=my_synthetic", "paths=my_cluster", "stage=1", "debug=tiny"]
    run([*train, *overrides, "logger=none", "callbacks=none", "trainer.max_steps=2"], cwd=outside)
    metrics = json.loads((outside / "outputs/tiny/my_synthetic/stage1/metrics.json").read_text())
    assert metrics["stage"] == 1
    assert set(metrics["test"]) == {"voc", "idw"}
    assert (data_dir / "tiny" / "synthetic" / "VOC2012").is_dir()
