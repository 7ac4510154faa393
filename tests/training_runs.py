"""Run the Hydra entry points on a tiny synthetic data set, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tiny_overrides(root: Path) -> list[str]:
    """Overrides for a fast run (``debug=tiny``: 32×32 images, a few images and steps), with
    data and outputs under ``root``."""
    return [
        "debug=tiny",
        f"paths.data_dir={root / 'data'}",
        f"paths.output_root={root / 'outputs'}",
    ]


def tiny_voc_root(root: Path) -> Path:
    """The VOC2012 folder of the ``debug=tiny`` data set of :func:`tiny_overrides` (``root``)."""
    return root / "data" / "tiny" / "synthetic" / "VOC2012"


ENV = {"WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1", "PATH": "/usr/bin:/bin"}
# The entry points run this checkout's code, whichever dis_seg the environment has installed.
CHECKOUT_ENV = {**ENV, "PYTHONPATH": str(REPO / "src")}


def start_entry_point(module: str, *overrides: str, log: Path) -> subprocess.Popen:
    """Start ``python -m <module> <overrides>`` from the repository root; output into ``log``."""
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", module, *overrides],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=CHECKOUT_ENV,
        )


def run_entry_point(
    module: str, *overrides: str, check: bool = True, full_error: bool = True
) -> subprocess.CompletedProcess:
    """``python -m <module> <overrides>`` from the repository root; output captured. Errors
    come with their traceback (``HYDRA_FULL_ERROR=1``) unless not ``full_error``."""
    result = subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=CHECKOUT_ENV
        if full_error
        else {k: v for k, v in CHECKOUT_ENV.items() if k != "HYDRA_FULL_ERROR"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def refused_run(app, arguments: list[str], monkeypatch) -> int:
    """Run the Hydra app ``app`` (a ``dis_seg.cli`` module) in this process, with command-line
    ``arguments`` that its validation pass refuses; return its exit status. (The pass ends the
    run before it loads or writes anything.)"""
    monkeypatch.setattr(sys, "argv", [app.__name__, *arguments])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    try:
        app.main()
    except SystemExit as stopped:
        return stopped.code
    raise AssertionError(f"{app.__name__} {' '.join(arguments)} ran")
