"""Killed training resumes: SIGTERM/SIGINT write last.ckpt, SIGKILL loses at most the steps
since the last periodic checkpoint, training resumed from a checkpoint sees the batches of an
uninterrupted run, and the pipeline takes up a run at the stage it reached."""

import csv
import json
import signal
import time
from dataclasses import dataclass

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from dis_seg.errors import PipelineError
from dis_seg.runs.checkpoints import AtomicCheckpointIO
from dis_seg.runs.pipeline import check_resumable, stage_folders
from tests.helpers import (
    copy_run,
    quiet_trainer,
    run_entry_point,
    start_entry_point,
    tiny_overrides,
)

STAGE1 = "outputs/synthetic/stage1"


def long_training(root):
    """Stage 1 with 20 steps an epoch and last.ckpt every 2 steps, logging every step to
    metrics.csv, without validation; resumed by ckpt_path=last."""
    return [
        *tiny_overrides(root),
        "stage=1",
        "logger=csv",
        "+logger.csv.flush_logs_every_n_steps=1",
        "trainer.log_every_n_steps=1",
        "data.synthetic.num_labelled=40",
        "trainer.limit_train_batches=null",
        "trainer.limit_val_batches=0",
        "checkpoints.every_n_steps=2",
        "ckpt_path=last",
    ]


def logged_step(root) -> int:
    """The highest training step in the metrics.csv of the runs so far (-1 before the first)."""
    steps = []
    for path in (root / STAGE1 / "csv").glob("version_*/metrics.csv"):
        with path.open() as rows:
            steps += [row.get("step") or "" for row in csv.DictReader(rows)]
    return max((int(step) for step in steps if step.isdigit()), default=-1)


def last_checkpoint(root) -> dict:
    return torch.load(root / STAGE1 / "checkpoints" / "last.ckpt", weights_only=True)


@dataclass
class Interruption:
    """A run stopped by a signal: its exit status and log, the highest step it logged and
    last.ckpt afterwards."""

    status: int
    log: str
    reached: int
    checkpoint: dict


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> dict[str, Interruption]:
    """One stage-1 training stopped three times, each time resumed with ckpt_path=last: by
    SIGKILL at step 5 (a fresh start: no last.ckpt yet), by SIGTERM 3 steps after its last
    checkpoint, by SIGINT 2 steps after."""
    root = tmp_path_factory.mktemp("interrupted")
    runs: dict[str, Interruption] = {}
    start = 0
    for signum, steps in ((signal.SIGKILL, 5), (signal.SIGTERM, 3), (signal.SIGINT, 2)):
        log = root / f"{signum.name}.log"
        process = start_entry_point("dis_seg.cli.train", *long_training(root), log=log)
        while logged_step(root) < start + steps:
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        process.send_signal(signum)
        status = process.wait()
        checkpoint = last_checkpoint(root)
        runs[signum.name] = Interruption(status, log.read_text(), logged_step(root), checkpoint)
        start = checkpoint["global_step"]
    return runs


@pytest.mark.slow
def test_sigkill_loses_at_most_the_steps_since_the_last_periodic_checkpoint(interrupted):
    run = interrupted["SIGKILL"]
    saved = run.checkpoint["global_step"]
    assert run.status == -signal.SIGKILL
    assert saved % 2 == 0
    assert run.reached - 2 <= saved <= run.reached + 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_save_last_ckpt_at_the_step_reached_and_exit_143(interrupted, name):
    run = interrupted[name]
    saved = run.checkpoint["global_step"]
    assert run.status == 128 + signal.SIGTERM
    assert f"stopped by a signal at step {saved}: saved" in run.log
    assert saved >= run.reached


@pytest.mark.slow
def test_a_sigint_is_announced_as_a_sigint_and_a_sigterm_as_a_sigterm(interrupted):
    assert "Received SIGINT (Ctrl+C)" in interrupted["SIGINT"].log
    assert "Received SIGTERM" not in interrupted["SIGINT"].log
    assert "Received SIGTERM" in interrupted["SIGTERM"].log


@pytest.mark.slow
def test_ckpt_path_last_resumes_global_step_optimizer_and_lr_schedule(interrupted):
    killed, stopped = (interrupted[name].checkpoint for name in ("SIGKILL", "SIGTERM"))
    step = stopped["global_step"]
    assert step > killed["global_step"] > 0
    assert stopped["lr_schedulers"][0]["last_epoch"] == step
    states = stopped["optimizer_states"][0]["state"].values()
    assert {int(state["step"]) for state in states} == {step}  # AdamW counts from the start


class BatchIds(pl.Callback):
    """Records the sample ids of every training batch."""

    def __init__(self) -> None:
        self.ids: list[list[str]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ARG002
        self.ids.append(batch["id"])


def fit_stage1(cfg, checkpoints, ckpt_path=None) -> list[list[str]]:
    """Stage-1 training, its module and data module built from ``cfg`` as ``dis-seg-train``
    builds them, for 3 epochs of 4 batches with a checkpoint every 2 steps into
    ``checkpoints``; the ids of its batches."""
    pl.seed_everything(cfg.seed, workers=True)
    batch_ids = BatchIds()
    trainer = quiet_trainer(
        max_epochs=3,
        limit_val_batches=0,
        callbacks=[
            batch_ids,
            ModelCheckpoint(checkpoints, "{step}", every_n_train_steps=2, save_top_k=-1),
        ],
        enable_checkpointing=True,
    )
    trainer.fit(
        instantiate(cfg.stage_config.module, _convert_="all"),
        datamodule=instantiate(cfg.data, _convert_="all"),
        ckpt_path=ckpt_path,
    )
    return batch_ids.ids


@pytest.fixture(scope="module", params=[0, 2], ids=["no_workers", "two_workers"])
def uninterrupted(request, tmp_path_factory, compose):
    """(config, checkpoint folder, batch ids) of a stage-1 training on 8 labelled images,
    loading data in the main process or in 2 persistent workers."""
    root = tmp_path_factory.mktemp("uninterrupted")
    workers = [f"data.num_workers={request.param}", f"data.persistent_workers={request.param > 0}"]
    cfg = compose("train", *tiny_overrides(root), *workers, "stage=1")
    return cfg, root / "checkpoints", fit_stage1(cfg, root / "checkpoints")


@pytest.mark.parametrize("step", [6, 8], ids=["mid_epoch", "epoch_end"])
def test_training_resumed_from_a_checkpoint_sees_the_batches_of_an_uninterrupted_run(
    uninterrupted, step, tmp_path
):
    cfg, checkpoints, ids = uninterrupted
    assert len(ids) == 12
    assert len({tuple(batch) for batch in ids}) == 12
    resumed = fit_stage1(cfg, tmp_path, ckpt_path=checkpoints / f"step={step}.ckpt")
    assert resumed == ids[step:]


def test_pipeline_skips_finished_stages_and_resumes_the_unfinished_one(pipeline, tmp_path):
    root, outputs = pipeline.parents[1], tmp_path / "outputs"
    for stage in (1, 2, 3):
        copy_run(pipeline / f"stage{stage}", outputs / "synthetic" / f"stage{stage}")
    (outputs / "synthetic" / "stage3" / "metrics.json").unlink()
    result = run_entry_point(
        "dis_seg.cli.pipeline", "logger=csv", *tiny_overrides(root), f"paths.output_root={outputs}"
    )
    assert "stage 1: done" in result.stdout
    assert "stage 2: done" in result.stdout
    assert "stage 3: resuming from" in result.stdout
    assert "| stage-3 test mIoU, tts=2 |" in result.stdout
    resumed = json.loads((outputs / "synthetic" / "stage3" / "metrics.json").read_text())
    assert resumed == json.loads((pipeline / "stage3" / "metrics.json").read_text())


def fake_run(folder, config, metrics=True) -> None:
    (folder / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(config), folder / ".hydra" / "config.yaml")
    if metrics:
        (folder / "metrics.json").write_text("{}")


def test_pipeline_refuses_a_run_folder_of_another_config(tmp_path):
    _, folders = stage_folders([f"paths.output_root={tmp_path}"])
    fake_run(folders[0].folder, {**folders[0].config, "seed": 7})
    with pytest.raises(PipelineError, match=r"a stage-1 run of another config \(keys seed differ"):
        check_resumable(folders)


def test_pipeline_refuses_later_results_built_on_an_unfinished_stage(tmp_path):
    _, folders = stage_folders([f"paths.output_root={tmp_path}"])
    fake_run(folders[0].folder, folders[0].config, metrics=False)
    fake_run(folders[1].folder, folders[1].config)
    with pytest.raises(PipelineError, match="stage 1 before it is unfinished"):
        check_resumable(folders)


def test_interrupted_checkpoint_save_keeps_the_previous_file_and_leaves_no_partial(
    tmp_path, monkeypatch
):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)

    def killed_mid_write(checkpoint, file):  # noqa: ARG001 (torch.save's signature)
        file.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2}, path)
    assert io.load_checkpoint(path) == {"global_step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
