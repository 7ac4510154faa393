"""The ``last.ckpt`` that each training job of ``dis-seg-train -m [overrides]`` writes
(``dis-seg-sweeps``; ``make sweep`` evaluates them).

The jobs are those Hydra's basic sweeper makes of the overrides (every combination of the
``a,b,...`` values, e.g. ``seed=0,1,2``). The folder of each is Hydra's
``<hydra.sweep.dir>/<hydra.sweep.subdir>`` of the train config composed with that job's
overrides, so it follows ``seed``, ``stage``, ``ttr``, ``tts`` and any other key the folder name
holds. The overrides must fix ``hydra.sweep.dir``: the default one holds the time of the run.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from dis_seg import CONFIG_DIR


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The overrides of each job of a multirun over ``overrides``, in Hydra's order."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    (jobs,) = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    return jobs


def job_checkpoint(overrides: list[str]) -> Path:
    """The ``last.ckpt`` of the multirun job of the train config with ``overrides`` (one job):
    in its ``checkpoints.dir``, by default ``checkpoints/`` in the job folder."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides, return_hydra_config=True)
    # the job folder, which Hydra gives the job as ${hydra:runtime.output_dir}
    cfg.paths.output_dir = str(Path(cfg.hydra.sweep.dir) / cfg.hydra.sweep.subdir)
    return Path(cfg.checkpoints.dir) / "last.ckpt"


def sweep_checkpoints(overrides: list[str]) -> list[Path]:
    """The ``last.ckpt`` of every job of ``dis-seg-train -m [overrides]``."""
    return [job_checkpoint(job) for job in sweep_jobs(overrides)]
