"""The installed commands run the entry points of ``dis_seg.cli`` with the same Hydra overrides
as ``python -m dis_seg.cli.<module>``."""

import ast
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

from tests.helpers import ENV, REPO

COMMANDS = {entry.name: entry for entry in distribution("dis-seg").entry_points}
CLI = REPO / "src" / "dis_seg" / "cli"


def test_every_command_is_the_main_of_a_cli_module():
    for name, entry in COMMANDS.items():
        package, _, module = entry.module.rpartition(".")
        assert (entry.group, package, entry.attr) == ("console_scripts", "dis_seg.cli", "main")
        tree = ast.parse((CLI / f"{module}.py").read_text())
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert "main" in functions, name


def test_every_cli_module_is_a_command():
    modules = {path.stem for path in CLI.glob("*.py")} - {"__init__"}
    commands = {entry.module.rpartition(".")[2] for entry in COMMANDS.values()}
    assert modules == commands, "pyproject.toml [project.scripts] differs (then pip install -e .)"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "arguments"),
    [
        ("dis_seg.train", ["stage=3"]),
        ("dis_seg.evaluate", ["ckpt_path=x"]),
        ("dis_seg.predict", ["ckpt_path=x", "input_dir=x", "output_dir=y"]),
    ],
)
def test_module_paths_of_the_public_surface_run_the_commands(module, arguments):
    result = subprocess.run(
        [sys.executable, "-m", module, *arguments, "tts=7", "--cfg", "job"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    assert "tts: 7" in result.stdout.splitlines()


@pytest.mark.slow
def test_synthetic_generator_runs_under_its_module_path(tmp_path):
    out = tmp_path / "data"
    arguments = ["--out", str(out), "--size", "32", "--num-labelled", "2", "--num-tag-only", "2"]
    arguments += ["--num-val", "1", "--num-test", "1", "--num-idw-test", "1"]
    subprocess.run(
        [sys.executable, "-m", "dis_seg.data.synthetic", *arguments], env=ENV, check=True
    )
    assert (out / "synthetic.json").is_file()


@pytest.mark.slow
def test_train_command_composes_the_config_of_its_module():
    overrides = ["stage=3", "ttr=7", "debug=tiny", "--cfg", "job"]
    command = Path(sys.executable).parent / "dis-seg-train"
    outputs = [
        subprocess.run(args, capture_output=True, text=True, env=ENV, check=True).stdout
        for args in ([command, *overrides], [sys.executable, "-m", "dis_seg.cli.train", *overrides])
    ]
    assert "ttr: 7" in outputs[0]
    assert outputs[0] == outputs[1]
