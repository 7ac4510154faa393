import json

from dis_seg.cli import evaluate
from tests.training_runs import refused_run, run_entry_point, tiny_overrides


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


def test_evaluate_names_a_missing_data_folder_instead_of_generating_data(
    pipeline, tmp_path, monkeypatch, capsys
):
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    missing = tmp_path / "no_such_dir"
    overrides = [f"ckpt_path={checkpoint}", f"paths.data_dir={missing}"]
    assert refused_run(evaluate, [*overrides, f"paths.output_root={tmp_path}"], monkeypatch) == 2
    assert capsys.readouterr().err == (
        f"error: data.voc_root: {missing}/synthetic/VOC2012 does not exist (set from "
        "paths.data_dir); expected the folder of a data set (docs/DATA.md)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_evaluate_on_absent_voc_data_names_the_key_and_variable_in_one_line(
    pipeline, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("VOC_ROOT", raising=False)
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    overrides = [f"ckpt_path={checkpoint}", "data=voc", f"paths.data_dir={tmp_path}"]
    assert refused_run(evaluate, [*overrides, f"paths.output_root={tmp_path}"], monkeypatch) == 2
    assert capsys.readouterr().err == (
        f"error: data.voc_root: {tmp_path}/VOCdevkit/VOC2012 does not exist (set from "
        "paths.voc_root or the environment variable VOC_ROOT); expected the folder of a data "
        "set (docs/DATA.md)\n"
    )
