import json

from tests.training_runs import run_entry_point, tiny_overrides


def evaluation_overrides(root):
    """The tiny data overrides that also apply to evaluation (no training keys)."""
    keep = ("paths.", "data.synthetic.", "trainer.enable_progress_bar", "tts=")
    return [o for o in tiny_overrides(root) if o.startswith(keep)]


def test_evaluate_reproduces_the_stage3_test_metrics_of_its_checkpoint(pipeline, tmp_path):
    root = pipeline.parents[1]
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    run_entry_point(
        "dis_seg.evaluate",
        f"ckpt_path={checkpoint}",
        *evaluation_overrides(root),
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    trained = json.loads((pipeline / "stage3" / "metrics.json").read_text())
    assert evaluated["tts"] == trained["tts"] == 2
    for key in ("mIoU_t0", "mIoU_t1", "mIoU_t2", "pixel_accuracy", "tag_mAP"):
        assert abs(evaluated[key] - trained[key]) < 1e-6, key
    assert evaluated["per_class_IoU"] == trained["per_class_IoU"]


def test_evaluate_rejects_a_checkpoint_with_other_num_classes(pipeline, tmp_path):
    checkpoint = pipeline / "stage1" / "checkpoints" / "last.ckpt"
    result = run_entry_point(
        "dis_seg.evaluate",
        f"ckpt_path={checkpoint}",
        *evaluation_overrides(tmp_path),
        "data.num_classes=5",
        "data.class_names=[background,a,b,c,d]",
        "data.synthetic.classes=[1,2,3,4]",
        check=False,
    )
    assert result.returncode != 0
    assert "model.num_classes" in result.stderr and "21 classes but the data has 5" in result.stderr
