"""Lightning DDP on 2 CPU processes (gloo) computes the metrics of a single process."""

import json

import pytest

from tests.helpers import run_entry_point, tiny_overrides

pytestmark = pytest.mark.slow  # trains with DDP in subprocesses

DDP = [
    "trainer=ddp",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "trainer.sync_batchnorm=false",
]


@pytest.fixture(scope="module")
def distributed(pipeline, tmp_path_factory) -> dict:
    """Stage 1 and stage 3 (ttr = 3) trained with DDP, and each checkpoint evaluated by one
    process with the tts of its training: {stage: (metrics.json of training, of evaluation,
    output of training)}."""
    root, outputs = pipeline.parents[1], tmp_path_factory.mktemp("ddp")
    overrides = [*tiny_overrides(root), f"paths.output_root={outputs}", "logger=none", *DDP]
    logs = {1: run_entry_point("dis_seg.cli.train", "stage=1", *overrides)}
    stage2 = pipeline / "stage2" / "checkpoints" / "last.ckpt"
    # a step size that moves the labelmaps of the barely trained network
    step_size = "inference.step_size=3000"
    logs[3] = run_entry_point(
        "dis_seg.cli.train", "stage=3", *overrides, f"stages.s3.init_from={stage2}", step_size
    )
    runs = {stage: outputs / "synthetic" / f"stage{stage}" for stage in (1, 3)}
    checkpoints = ",".join(str(run / "checkpoints" / "last.ckpt") for run in runs.values())
    run_entry_point(
        "dis_seg.cli.evaluate",
        "-m",
        f"ckpt_path={checkpoints}",
        *tiny_overrides(root),
        "tts=0,2",
        step_size,
        f"hydra.sweep.dir={outputs / 'eval'}",
        "hydra.sweep.subdir=${hydra.job.num}",
    )
    evaluated = {}
    for path in (outputs / "eval").glob("*/metrics.json"):
        metrics = json.loads(path.read_text())
        evaluated[metrics["ckpt_path"], metrics["tts"]] = metrics
    pairs = {}
    for stage, run in runs.items():
        trained = json.loads((run / "metrics.json").read_text())
        evaluation = evaluated[str(run / "checkpoints" / "last.ckpt"), trained["tts"]]
        pairs[stage] = trained, evaluation, logs[stage].stdout + logs[stage].stderr
    return pairs


@pytest.mark.parametrize("stage", [1, 3])
def test_ddp_test_metrics_equal_a_single_process_evaluation_of_the_checkpoint(distributed, stage):
    # 3 test images on 2 ranks: Lightning's default sampler would evaluate one of them twice.
    trained, evaluated, _ = distributed[stage]
    assert list(trained["test"]) == ["voc", "idw"]
    for split, block in trained["test"].items():
        other = evaluated["test"][split]
        for key in [f"mIoU_t{t}" for t in range(trained["tts"] + 1)] + ["pixel_accuracy"]:
            assert other[key] == block[key], (split, key)
        assert other["per_class_IoU"] == block["per_class_IoU"]
        for key in ("tag_mAP", "recon_error_t0"):
            assert other[key] == pytest.approx(block[key], rel=1e-5), (split, key)


@pytest.mark.parametrize("stage", [1, 3])
def test_ddp_epoch_metrics_log_without_lightning_asking_for_sync_dist(distributed, stage):
    *_, output = distributed[stage]
    assert "test/voc (whole): mIoU % t=0" in output
    assert "test/idw (whole): mIoU %" in output
    assert "sync_dist=True" not in output
