import json
import shutil

from dis_seg.cli import evaluate
from dis_seg.runs.checkpoints import read_checkpoint
from dis_seg.runs.results import result_lines
from dis_seg.stages.base import checkpoint_record
from tests.helpers import refused_run, run_entry_point, tiny_overrides, tiny_voc_root


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


def test_evaluate_rejects_a_checkpoint_with_other_num_classes(
    pipeline, tmp_path, monkeypatch, capsys
):
    checkpoint = pipeline / "stage1" / "checkpoints" / "last.ckpt"
    arguments = [
        f"ckpt_path={checkpoint}",
        *tiny_overrides(tmp_path),
        "data.num_classes=5",
        "data.class_names=[background,a,b,c,d]",
        "data.synthetic.classes=[aeroplane,bicycle,bird,boat]",
    ]
    assert refused_run(evaluate, arguments, monkeypatch) == 2
    error = capsys.readouterr().err
    assert "model.num_classes" in error
    assert "21 classes but the data has 5" in error


def test_evaluate_names_a_missing_data_folder_instead_of_generating_data(
    pipeline, tmp_path, monkeypatch, capsys
):
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    missing = tmp_path / "no_such_dir"
    overrides = [f"ckpt_path={checkpoint}", f"paths.data_dir={missing}"]
    assert refused_run(evaluate, [*overrides, f"paths.output_root={tmp_path}"], monkeypatch) == 2
    assert capsys.readouterr().err == (
        f"error: data.voc_root: {missing}/synthetic/VOC2012 does not exist (set from "
        "data.synthetic.out or paths.data_dir); expected the folder of a data set (docs/DATA.md)\n"
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
        "paths.voc_root or paths.data_dir or the environment variable VOC_ROOT); expected the "
        "folder of a data set (docs/DATA.md)\n"
    )


def test_metrics_json_and_the_checkpoint_record_the_data_they_were_computed_on(pipeline):
    metrics = json.loads((pipeline / "stage3" / "metrics.json").read_text())
    data = metrics["data"]
    assert data["voc_root"].endswith("synthetic/VOC2012")
    assert len(data["fingerprint"]) == 16
    checkpoint = read_checkpoint(pipeline / "stage3" / "checkpoints" / "last.ckpt")
    assert checkpoint_record(checkpoint) == {"stage": 3, "data": data}
    assert metrics["protocol"] == "whole"


def test_evaluating_on_other_data_than_the_checkpoints_says_so_in_one_line(pipeline, tmp_path):
    shutil.copytree(pipeline.parents[1] / "data", tmp_path / "data")
    split = tiny_voc_root(tmp_path) / "ImageSets" / "Segmentation" / "test.txt"
    split.write_text("".join(split.read_text().splitlines(keepends=True)[:1]))
    result = run_entry_point(
        "dis_seg.cli.evaluate",
        f"ckpt_path={pipeline / 'stage3' / 'checkpoints' / 'last.ckpt'}",
        *tiny_overrides(tmp_path),
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    notes = [line for line in result.stdout.splitlines() if "evaluating on data" in line]
    assert len(notes) == 1
    assert "not the data the checkpoint was trained on" in notes[0]
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    trained = json.loads((pipeline / "stage3" / "metrics.json").read_text())
    assert evaluated["data"]["fingerprint"] != trained["data"]["fingerprint"]


def test_the_lines_of_a_test_give_the_steps_in_the_order_of_t():
    block = {f"mIoU_t{t}": t / 100 for t in (0, 1, 2, 10, 20)} | {"tag_mAP": 0.5}
    (line,) = result_lines({"protocol": "whole", "test": {"voc": block}})
    assert line == (
        "test/voc (whole): mIoU % t=0 0.0, t=1 1.0, t=2 2.0, t=10 10.0, t=20 20.0; tag mAP 50.0 %"
    )
