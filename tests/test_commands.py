"""The installed commands run the entry points of ``dis_seg.cli`` with the same Hydra overrides
as ``python -m dis_seg.cli.<module>``."""

import ast
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

from tests.training_runs import ENV, REPO

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


def test_train_command_composes_the_config_of_its_module():
    overrides = ["stage=3", "ttr=7", "debug=tiny", "--cfg", "job"]
    command = Path(sys.executable).parent / "dis-seg-train"
    outputs = [
        subprocess.run(args, capture_output=True, text=True, env=ENV, check=True).stdout
        for args in ([command, *overrides], [sys.executable, "-m", "dis_seg.cli.train", *overrides])
    ]
    assert "ttr: 7" in outputs[0]
    assert outputs[0] == outputs[1]
