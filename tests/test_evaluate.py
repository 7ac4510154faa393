import json

from tests.training_runs import run_entry_point, tiny_overrides


def test_evaluate_reproduces_the_stage3_test_metrics_of_its_checkpoint(pipeline, tmp_path):
    root = pipeline.parents[1]
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    run_entry_point(
        "dis_seg.cli.evaluate",
        f"ckpt_path={checkpoint}",
        *tiny_overrides(root),
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    trained = json.loads((pipeline / "stage3" / "metrics.json").read_text())
    assert evaluated["tts"] == trained["tts"] == 2
    assert list(evaluated["test"]) == list(trained["test"]) == ["voc", "idw"]
    for split, block in trained["test"].items():
        for key in ("mIoU_t0", "mIoU_t1", "mIoU_t2", "pixel_accuracy", "tag_mAP"):
            assert abs(evaluated["test"][split][key] - block[key]) < 1e-6, (split, key)
        assert evaluated["test"][split]["per_class_IoU"] == block["per_class_IoU"]


def test_evaluate_rejects_a_checkpoint_with_other_num_classes(pipeline, tmp_path):
    checkpoint = pipeline / "stage1" / "checkpoints" / "last.ckpt"
    result = run_entry_point(
        "dis_seg.cli.evaluate",
        f"ckpt_path={checkpoint}",
        *tiny_overrides(tmp_path),
        "data.num_classes=5",
        "data.class_names=[background,a,b,c,d]",
        "data.synthetic.classes=[1,2,3,4]",
        check=False,
    )
    assert result.returncode != 0
    assert "model.num_classes" in result.stderr and "21 classes but the data has 5" in result.stderr
