"""A run never replaces another run's results and refuses, in one line and before it creates
anything, what it cannot do: a folder of another config, a checkpoint of the wrong stage, a
folder it cannot write, a config group option or key that does not exist."""

import os

import pytest

from dis_seg.cli import evaluate, train
from tests.helpers import folder_state, refused_run, run_entry_point, tiny_overrides, tiny_voc_root


@pytest.mark.parametrize(
    "overrides",
    [["data.batch_size=2", "data.labelled_per_batch=1"], ["optimizer.name=sgd"]],
    ids=["other batches", "other optimizer"],
)
def test_a_finished_run_of_another_config_is_refused_and_left_as_it_was(
    pipeline, monkeypatch, capsys, overrides
):
    before = folder_state(pipeline / "stage1")
    arguments = ["stage=1", "logger=csv", *tiny_overrides(pipeline.parents[1]), *overrides]
    assert refused_run(train, arguments, monkeypatch) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: hydra.run.dir: {pipeline / 'stage1'} holds a stage-1 run")
    assert "of another config" in error
    assert error.count("\n") == 1
    assert folder_state(pipeline / "stage1") == before


def test_stage3_refuses_to_start_from_a_stage1_checkpoint(pipeline, tmp_path, monkeypatch, capsys):
    stage1 = pipeline / "stage1" / "checkpoints" / "last.ckpt"
    arguments = ["stage=3", f"stages.s3.init_from={stage1}", *tiny_overrides(tmp_path)]
    assert refused_run(train, arguments, monkeypatch) == 2
    assert capsys.readouterr().err == (
        f"error: stages.s3.init_from: {stage1} is a stage-1 checkpoint; stage 3 starts from a "
        "stage-2 checkpoint (`make train-stage2` writes one)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_data_set_of_other_parameters_is_refused_before_the_run_and_left_as_it_was(
    pipeline, tmp_path, monkeypatch, capsys
):
    data = tiny_voc_root(pipeline.parents[1]).parent
    before = folder_state(data)
    arguments = [*tiny_overrides(pipeline.parents[1]), f"paths.output_root={tmp_path}"]
    assert refused_run(train, [*arguments, "data.synthetic.seed=7"], monkeypatch) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: data.synthetic.out: {data} holds a synthetic data set of ")
    assert "seed 0, not 7" in error
    assert error.count("\n") == 1
    assert folder_state(data) == before
    assert list(tmp_path.iterdir()) == []


def test_jobs_of_a_multirun_that_would_share_a_folder_are_refused_before_the_first(
    pipeline, tmp_path, monkeypatch, capsys
):
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    arguments = ["-m", f"ckpt_path={checkpoint}", *tiny_overrides(pipeline.parents[1])]
    arguments += ["inference.step_size=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    assert refused_run(evaluate, arguments, monkeypatch) == 2
    error = capsys.readouterr().err
    assert error == (
        "error: hydra.sweep.subdir: jobs 0 and 1 of this multirun would write into one folder, "
        f"{tmp_path / 'sweep' / 'tts2'}; put the keys they differ in into hydra.sweep.subdir\n"
    )
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("app", [train, evaluate], ids=["train", "evaluate"])
def test_a_run_folder_that_cannot_be_written_is_refused_naming_it(
    pipeline, tmp_path, monkeypatch, capsys, app
):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    writable = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: writable(path, mode) and path != read_only)
    arguments = [*tiny_overrides(tmp_path), f"paths.output_root={read_only}"]
    if app is evaluate:
        arguments.append(f"ckpt_path={pipeline / 'stage3' / 'checkpoints' / 'last.ckpt'}")
    assert refused_run(app, arguments, monkeypatch) == 2
    assert capsys.readouterr().err == (
        f"error: hydra.run.dir: {read_only} is not writable; choose a folder you can write\n"
    )
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("experiment=nope", "experiment=nope: no such option of experiment/; expected one of"),
        ("logger=nope", "logger=nope: no such option of logger/; expected one of csv, default"),
        ("tss=3", "tss: unknown key; did you mean tts?"),
        ("+ttr=3", "+ttr: the key exists; set it without the +"),
        ("ttr=[", "ttr=[: not an override"),
    ],
)
def test_a_config_that_does_not_compose_is_refused_in_one_line(
    tmp_path, monkeypatch, capsys, argument, message
):
    assert refused_run(train, [argument, *tiny_overrides(tmp_path)], monkeypatch) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}")
    assert error.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_job_of_a_multirun_that_does_not_compose_is_refused_before_the_first_starts(
    tmp_path, monkeypatch, capsys
):
    arguments = ["-m", "experiment=synthetic,nope", *tiny_overrides(tmp_path)]
    assert refused_run(train, arguments, monkeypatch) == 2
    assert capsys.readouterr().err.startswith("error: experiment=nope: no such option")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_failed_run_leaves_its_error_and_lightnings_lines_in_its_log(pipeline, tmp_path):
    arguments = ["stage=1", "logger=none", *tiny_overrides(pipeline.parents[1])]
    arguments += [f"paths.output_root={tmp_path}", "data.test_split=nowhere"]
    result = run_entry_point("dis_seg.cli.train", *arguments, check=False, full_error=False)
    assert result.returncode == 1
    log = (tmp_path / "synthetic" / "stage1" / "train.log").read_text()
    assert "`Trainer.fit` stopped" in log
    assert "error: " in log
    assert "nowhere" in log
