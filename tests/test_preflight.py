"""A run whose config fails the validation pass stops with one line naming the key, before
Hydra creates anything; with ``HYDRA_FULL_ERROR=1`` the line is the error's traceback."""

import sys

import pytest

from dis_seg.cli import evaluate, predict, train
from tests.helpers import refused_run, tiny_overrides


@pytest.mark.parametrize(
    ("app", "arguments", "message"),
    [
        (train, ["stage=4"], "stage: unknown value 4; expected one of (1, 2, 3)"),
        (evaluate, [], "ckpt_path: missing; set it on the command line (ckpt_path=...)"),
        (predict, ["tts=-1", "ckpt_path=x.ckpt"], "tts: expected an integer ≥ 0, got -1"),
    ],
    ids=["train", "evaluate", "predict"],
)
def test_refused_run_prints_one_line_and_creates_nothing(
    tmp_path, monkeypatch, capsys, app, arguments, message
):
    if app is predict:
        arguments += ["input_dir=.", f"output_dir={tmp_path / 'predictions'}"]
    else:
        arguments += tiny_overrides(tmp_path)
    assert refused_run(app, arguments, monkeypatch) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_every_job_of_a_multirun_is_checked_before_the_first_starts(tmp_path, monkeypatch, capsys):
    arguments = [
        "-m",
        "stage=1",
        "ttr=0,-1",
        # the Trainer that the first job's check builds would otherwise switch this test
        # process to deterministic algorithms
        "trainer.deterministic=false",
        *tiny_overrides(tmp_path),
    ]
    assert refused_run(train, arguments, monkeypatch) == 2
    assert capsys.readouterr().err == "error: ttr: expected an integer ≥ 0, got -1\n"
    assert list(tmp_path.iterdir()) == []


def test_full_error_shows_the_traceback_and_still_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["train", "stage=4", *tiny_overrides(tmp_path)])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(SystemExit, match="2"):
        train.main()
    error = capsys.readouterr().err
    assert error.startswith("Traceback")
    assert "ConfigError: stage: unknown value 4" in error
    assert list(tmp_path.iterdir()) == []
