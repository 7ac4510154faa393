import json

import pytest
from PIL import Image

from dis_seg.cli.report import main
from dis_seg.reports.sweep import report
from tests.helpers import run_entry_point, tiny_overrides


def write_job(path, idw=None, **metrics):
    """A job's metrics.json: the ``mIoU_t*`` keyword arguments form the ``voc`` test block,
    ``idw`` (a dict) the ``idw`` one; the other keyword arguments sit at the top level."""
    path.mkdir(parents=True)
    voc = {key: value for key, value in metrics.items() if key.startswith("mIoU_t")}
    job = {key: value for key, value in metrics.items() if key not in voc}
    job["test"] = {"voc": voc, **({"idw": idw} if idw else {})}
    (path / "metrics.json").write_text(json.dumps(job))


@pytest.fixture
def sweep(tmp_path):
    """Hand-written metrics.json files of a train multirun over ttr and an evaluate multirun
    over tts, nested as Hydra writes them."""
    train = tmp_path / "train"
    write_job(train / "ttr0", stage=3, ttr=0, tts=2, mIoU_t0=0.10, mIoU_t1=0.11, mIoU_t2=0.12)
    write_job(train / "ttr5", stage=3, ttr=5, tts=2, mIoU_t0=0.20, mIoU_t1=0.21, mIoU_t2=0.22)
    write_job(train / "ttr5_seed1", stage=3, ttr=5, tts=2, mIoU_t0=0.30, mIoU_t2=0.32)
    write_job(train / "stage1", stage=1, ttr=0, tts=0, mIoU_t0=0.05)
    checkpoint = train / "ttr0" / "checkpoints" / "last.ckpt"
    write_job(tmp_path / "eval" / "tts5", ckpt_path=str(checkpoint), tts=5, mIoU_t5=0.15)
    write_job(tmp_path / "eval" / "other", ckpt_path="x/last.ckpt", tts=1, mIoU_t0=0.4)
    return tmp_path


def test_table_has_ttr_rows_and_tts_columns_filled_from_every_job(sweep):
    assert report(sweep).splitlines() == [
        "## voc test",
        "",
        "| ttr \\ tts | 0 | 1 | 2 | 5 |",
        "|---|---:|---:|---:|---:|",
        "| 0 | 10.0 | 11.0 | 12.0 | 15.0 |",
        "| 5 | 25.0 ± 7.1 | 21.0 | 27.0 ± 7.1 | – |",
        "| ckpt x/last.ckpt | 40.0 | – | – | – |",
        "| stage 1 | 5.0 | – | – | – |",
    ]


def test_train_job_contributes_only_steps_up_to_its_tts(tmp_path):
    write_job(tmp_path / "job", stage=3, ttr=2, tts=1, mIoU_t0=0.5, mIoU_t1=0.6, mIoU_t5=0.9)
    assert report(tmp_path).splitlines()[2] == "| ttr \\ tts | 0 | 1 |"


def test_each_test_set_gets_a_table_of_its_own(tmp_path):
    write_job(tmp_path / "a", stage=3, ttr=2, tts=1, mIoU_t0=0.5, mIoU_t1=0.6, idw={"mIoU_t1": 0.3})
    tables = report(tmp_path).split("\n\n")
    assert tables[0] == "## voc test"
    assert tables[2] == "## idw test"
    assert tables[1].splitlines()[2] == "| 2 | 50.0 | 60.0 |"
    assert tables[3].splitlines()[2] == "| 2 | 30.0 |"


def test_metrics_json_with_one_split_at_its_top_level_counts_as_voc(tmp_path):
    (tmp_path / "job").mkdir()
    flat = {"stage": 3, "ttr": 2, "tts": 1, "mIoU_t0": 0.5, "mIoU_t1": 0.6, "tag_mAP": 0.7}
    (tmp_path / "job" / "metrics.json").write_text(json.dumps(flat))
    assert report(tmp_path).splitlines()[::4] == ["## voc test", "| 2 | 50.0 | 60.0 |"]


def test_report_md_and_png_plot_are_written_and_table_printed(sweep, capsys):
    main([str(sweep)])
    printed = capsys.readouterr().out
    assert "| 5 | 25.0 ± 7.1 |" in printed
    assert printed.strip() in (sweep / "report.md").read_text()
    with Image.open(sweep / "mIoU_vs_t.png") as plot:
        assert plot.format == "PNG"
        assert plot.width > 100


def test_folder_without_metrics_json_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty_job").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path)])
    assert exit_info.value.code == 1
    assert f"{tmp_path}: no metrics.json under it" in capsys.readouterr().err


def test_foreign_metrics_json_is_an_error_naming_it(tmp_path, capsys):
    write_job(tmp_path / "other", accuracy=0.5)
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path)])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'other' / 'metrics.json'}: not a metrics.json of dis-seg-train (no "
        "'stage') or dis-seg-eval (no 'ckpt_path')\n"
    )


@pytest.mark.parametrize("text", ["", '{"stage": 3, "ttr"', "[1, 2]"], ids=["empty", "cut", "list"])
def test_corrupt_metrics_json_is_a_one_line_error_naming_it(sweep, capsys, text):
    corrupt = sweep / "train" / "ttr5" / "metrics.json"
    corrupt.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main([str(sweep)])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: {corrupt}: not a JSON object; expected the metrics.json of a dis-seg run"
    ]


def test_evaluate_multirun_over_tts_writes_one_metrics_json_per_job_for_the_report(
    pipeline, tmp_path
):
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    run_entry_point(
        "dis_seg.cli.evaluate",
        "-m",
        f"ckpt_path={checkpoint}",
        "tts=0,1",
        *tiny_overrides(pipeline.parents[1]),
        f"hydra.sweep.dir={tmp_path}",
    )
    jobs = sorted(path.parent.name for path in tmp_path.rglob("metrics.json"))
    assert jobs == ["tts0", "tts1"]
    trained = json.loads((pipeline / "stage3" / "metrics.json").read_text())
    tables = report(tmp_path).split("\n\n")
    for split, table in zip(("voc", "idw"), tables[1::2], strict=True):
        block = trained["test"][split]
        assert table.splitlines()[2:] == [
            f"| {trained['ttr']} | {100 * block['mIoU_t0']:.1f} | {100 * block['mIoU_t1']:.1f} |"
        ]
