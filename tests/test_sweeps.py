"""``make sweep`` evaluates the checkpoint that its own training multirun wrote."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dis_seg.runs.sweeps import sweep_checkpoints
from tests.helpers import ENV, REPO, tiny_overrides


def test_sweep_checkpoint_follows_the_seed_and_not_overrides_outside_the_job_folder_name():
    overrides = ["stage=3", "ttr=30", "tts=30", "hydra.sweep.dir=/sweep/train"]
    assert sweep_checkpoints([*overrides, "seed=1", "data.crop_size=48"]) == [
        Path("/sweep/train/stage3_ttr30_tts30_seed1/checkpoints/last.ckpt")
    ]


def test_sweep_checkpoints_are_one_per_job_of_a_multirun_over_seeds():
    overrides = ["stage=3", "ttr=30", "tts=30", "hydra.sweep.dir=/sweep/train", "seed=0,1"]
    assert sweep_checkpoints(overrides) == [
        Path(f"/sweep/train/stage3_ttr30_tts30_seed{seed}/checkpoints/last.ckpt") for seed in (0, 1)
    ]


def up_to_date_stamp(path: Path) -> Path:
    """A file newer than pyproject.toml: as ``STAMP``, it keeps ``make`` from installing."""
    path.touch()
    mtime = max(time.time(), (REPO / "pyproject.toml").stat().st_mtime + 1)
    os.utime(path, (mtime, mtime))
    return path


@pytest.mark.skipif(shutil.which("make", path=ENV["PATH"]) is None, reason="needs GNU make")
def test_make_sweep_with_seed_1_evaluates_the_checkpoint_of_its_seed_1_training_job(
    pipeline, tmp_path
):
    sweep = tmp_path / "sweep"
    args = [*tiny_overrides(pipeline.parents[1]), "seed=1", "data.crop_size=24"]
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "sweep",
            f"PYTHON={sys.executable}",
            f"STAMP={up_to_date_stamp(tmp_path / 'installed')}",
            f"RUN_DIR={pipeline}",
            f"SWEEP_DIR={sweep}",
            "SWEEP_TTR=0,3",
            "SWEEP_TMAX=3",
            "SWEEP_TTS=0,2",
            f"ARGS={' '.join(args)}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    trained = sorted(path.parent.name for path in (sweep / "train").glob("*/metrics.json"))
    assert trained == ["stage3_ttr0_tts3_seed1", "stage3_ttr3_tts3_seed1"]
    checkpoint = sweep / "train" / "stage3_ttr3_tts3_seed1" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()
    evaluations = sweep / "eval" / "stage3_ttr3_tts3_seed1"
    for tts in (0, 2):
        metrics = json.loads((evaluations / f"tts{tts}" / "metrics.json").read_text())
        assert (metrics["ckpt_path"], metrics["tts"]) == (str(checkpoint), tts)
    assert (sweep / "report.md").is_file()
