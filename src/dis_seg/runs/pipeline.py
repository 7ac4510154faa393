"""The three stages, then the summary table: what ``dis-seg-pipeline [overrides]`` (``make
train``) runs, taking an interrupted pipeline up at the stage and step it reached.

A stage whose folder holds ``metrics.json`` is done and skipped; the others run one after the
other with ``ckpt_path=last``, which resumes a stage from its ``last.ckpt`` when it has one. On
one device they run in one process (Python, torch and the GPU start once, not once a stage):
the jobs of a Hydra multirun ``dis-seg-train --multirun stage=2,3 ckpt_path=last [overrides]``
with the basic sweeper and launcher, which writes each stage into ``<run_dir>/stage<N>`` as a
single run would; a stage that fails or is stopped ends it before the next one. With several
devices or nodes each stage is a run of its own, ``dis-seg-train stage=N ckpt_path=last
[overrides]``, since Lightning's DDP relaunches the command line. A stage folder that holds
results of another config, or results that a later stage would have to be rebuilt from the
unfinished stage before it, stops the pipeline with a message.

A stage folder is of another config when its recorded ``.hydra/config.yaml`` differs from the
wanted config in a key that stage is compared on: any key but ``ckpt_path``,
``paths.output_root`` and the keys of later stages (:data:`STAGE_KEYS`). ``recon_fit`` and
``model.recon_scale`` are stage 2's (subnet-2 first learns in stage 2). ``ttr``, ``tts``,
``inference.*``, ``evaluation.*``, ``stages.s3.*`` and ``epochs.stage3`` are stage 3's, so a
run with other values of them takes up the finished stages 1 and 2 and trains stage 3 alone,
while a stage 3 started with other values is refused, so that its results are never mixed.
Stages 1 and 2 test with ``tts``, ``inference.*`` and ``evaluation.*`` too: a finished stage
taken up with other values is not tested again, and its ``metrics.json`` holds the test at its
own values.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from dis_seg import CONFIG_DIR
from dis_seg.errors import PipelineError
from dis_seg.runs.checks import differing_keys, skipped
from dis_seg.stages import STAGES

IGNORED_KEYS = ("ckpt_path", "paths.output_root")
# The keys of each stage, as dotted prefixes: its settings and epochs, and for stage 3 the
# iterative inference it trains with (ttr, inference.*) and the tts and protocol of its test,
# the pipeline's result. No earlier stage trains with them, so no earlier stage folder is
# compared on them.
STAGE_KEYS = {
    1: ("stages.s1", "epochs.stage1"),
    2: ("stages.s2", "epochs.stage2", "recon_fit", "model.recon_scale"),
    3: ("stages.s3", "epochs.stage3", "ttr", "tts", "inference", "evaluation"),
}


@dataclass
class StageFolder:
    """Where stage ``stage`` of this config writes, and what it holds."""

    stage: int
    folder: Path
    config: dict[str, Any]

    @property
    def done(self) -> bool:
        return (self.folder / "metrics.json").is_file()

    @property
    def checkpoint(self) -> Path:
        return self.folder / "checkpoints" / "last.ckpt"

    @property
    def started(self) -> bool:
        return self.done or self.checkpoint.is_file()


def stage_folders(overrides: list[str]) -> tuple[Path, list[StageFolder]]:
    """The run folder of the config given by ``overrides``, and its three stages."""
    folders = []
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        for stage in STAGES:
            cfg = compose("train", [*overrides, f"stage={stage}"], return_hydra_config=True)
            folder = Path(cfg.hydra.run.dir)
            config = OmegaConf.to_container(cfg, resolve=False)
            del config["hydra"]
            folders.append(StageFolder(stage, folder, config))
    return Path(cfg.run_dir), folders


def is_compared(key: str, stage: int) -> bool:
    """Whether a stage-``stage`` folder must have been written with the wanted value of the
    dotted ``key``: every key but :data:`IGNORED_KEYS` and the :data:`STAGE_KEYS` of later
    stages."""
    later = tuple(k for other in STAGES if other > stage for k in STAGE_KEYS[other])
    return not skipped(key, (*IGNORED_KEYS, *later))


def check_resumable(folders: list[StageFolder]) -> None:
    """Raise :class:`PipelineError` unless every started stage folder can be taken up."""
    for position, stage in enumerate(folders):
        if not stage.started:
            continue
        recorded_file = stage.folder / ".hydra" / "config.yaml"
        if not recorded_file.is_file():
            raise PipelineError(
                f"{stage.folder} holds stage-{stage.stage} results but no {recorded_file} to "
                f"tell their config: remove {stage.folder} to train stage {stage.stage} again"
            )
        recorded = OmegaConf.to_container(OmegaConf.load(recorded_file), resolve=False)
        differ = [
            key for key in differing_keys(recorded, stage.config) if is_compared(key, stage.stage)
        ]
        if differ:
            raise PipelineError(
                f"{stage.folder} holds a stage-{stage.stage} run of another config (keys "
                f"{', '.join(differ[:8])} differ): remove {stage.folder} to train stage "
                f"{stage.stage} again from the stages before it, or choose another run_name=... "
                "to train every stage for this config"
            )
        unfinished = [earlier for earlier in folders[:position] if not earlier.done]
        if unfinished:
            raise PipelineError(
                f"{stage.folder} holds stage-{stage.stage} results, but stage "
                f"{unfinished[0].stage} before it is unfinished and will change: remove "
                f"{stage.folder} to train stage {stage.stage} again after it"
            )


def on_one_device(overrides: list[str]) -> bool:
    """Whether the trainer of the config given by ``overrides`` runs on one device of one node
    with Lightning's default strategy, so that no process is relaunched and the stages can
    share one process."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        trainer = compose("train", overrides).trainer
    strategy = trainer.get("strategy") or "auto"
    return trainer.devices == 1 and trainer.get("num_nodes", 1) == 1 and strategy == "auto"


def check_layout(run_dir: Path, folders: list[StageFolder]) -> None:
    """Raise :class:`PipelineError` unless stage N writes into ``<run_dir>/stage<N>`` (the
    ``hydra.run.dir`` of conf/hydra/default.yaml), where :func:`run_stages` puts it."""
    for stage in folders:
        expected = run_dir / f"stage{stage.stage}"
        if stage.folder != expected:
            raise PipelineError(
                f"hydra.run.dir puts stage {stage.stage} into {stage.folder}, but the pipeline "
                f"trains it into {expected}: choose the folder with paths.output_root or "
                "run_name instead"
            )


def stage_commands(stages: list[StageFolder], overrides: list[str], together: bool) -> list:
    """The ``dis-seg-train`` command lines that train and test ``stages``: one Hydra multirun
    of them all (``together``; one job a batch, so that a job that fails raises before the next
    starts) or a run per stage."""
    train = [sys.executable, "-m", "dis_seg.cli.train"]
    if not together:
        return [[*train, *overrides, f"stage={stage.stage}", "ckpt_path=last"] for stage in stages]
    command = [*train, "--multirun", *overrides, "ckpt_path=last"]
    command += [f"stage={','.join(str(stage.stage) for stage in stages)}"]
    command += ["hydra/sweeper=basic", "hydra/launcher=basic", "hydra.sweeper.max_batch_size=1"]
    return [[*command, "hydra.sweep.dir=${run_dir}", "hydra.sweep.subdir=stage${stage}"]]


def run_stages(stages: list[StageFolder], overrides: list[str], together: bool) -> int:
    """Train and test ``stages`` one after the other (:func:`stage_commands`), each command in
    a child process (:func:`run_child`), until one fails; return the exit status."""
    for command in stage_commands(stages, overrides, together):
        status = run_child(command)
        if status:
            return status
    return 0


def run_child(command: list[str]) -> int:
    """Run ``command`` in a child process; return its exit status. SIGINT (Ctrl+C reaches the
    child too) is left to the child, SIGTERM is passed on to it, so that it writes
    ``last.ckpt`` before it exits."""
    child = subprocess.Popen(command)
    handlers = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda signum, _: child.send_signal(signum)),
    }
    try:
        return child.wait()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
