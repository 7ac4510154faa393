"""The pipeline takes up a finished stage when only keys of later stages differ from the config
it was trained with, and refuses a stage folder trained with other values of its own keys."""

import re

import pytest
from omegaconf import OmegaConf

from dis_seg.cli import pipeline as command
from dis_seg.errors import PipelineError
from dis_seg.runs.pipeline import StageFolder, check_resumable, stage_folders

STAGE3_SETTINGS = [
    "ttr=10",
    "tts=10",
    "inference.step_size=1.5",
    "inference.tag_weight=2.0",
    "inference.method=autograd",
    "stages.s3.module.pseudo_seg_weight=0.25",
    "epochs.stage3=3",
]
STAGE1_SETTINGS = [
    "optimizer.lr=0.5",
    "model.output_stride=16",
    "model.backbone=resnet101",
    "data.crop_size=48",
    "seed=1",
    "epochs.stage1=3",
    "stages.s1.module.seg_weight=0.5",
]


def trained(root, stages, *overrides: str, finished: bool = True) -> None:
    """Stage folders under ``root`` as ``dis-seg-train`` leaves them for ``overrides``:
    the recorded ``.hydra/config.yaml``, ``last.ckpt`` and, when finished, ``metrics.json``."""
    _, folders = stage_folders([f"paths.output_root={root}", *overrides])
    for stage in folders:
        if stage.stage in stages:
            (stage.folder / ".hydra").mkdir(parents=True)
            OmegaConf.save(OmegaConf.create(stage.config), stage.folder / ".hydra" / "config.yaml")
            stage.checkpoint.parent.mkdir()
            stage.checkpoint.write_bytes(b"")
            if finished:
                (stage.folder / "metrics.json").write_text("{}")


def wanted(root, override: str) -> list[StageFolder]:
    """The three stage folders of the config given by ``override``, under ``root``."""
    return stage_folders([f"paths.output_root={root}", override])[1]


@pytest.fixture
def trained_stages(monkeypatch) -> list[int]:
    """The stages that ``dis-seg-pipeline`` trains, recorded instead of run."""
    stages: list[int] = []
    monkeypatch.setattr(
        command, "run_stages", lambda todo, *_: stages.extend(s.stage for s in todo) or 0
    )
    monkeypatch.setattr(command, "summary_table", lambda *_: "summary")
    return stages


@pytest.mark.parametrize("override", STAGE3_SETTINGS)
def test_other_stage3_settings_skip_finished_stages_1_and_2_and_train_stage3(
    override, tmp_path, trained_stages, capsys
):
    trained(tmp_path, (1, 2))
    command.main([f"paths.output_root={tmp_path}", override])
    printed = capsys.readouterr().out
    assert "stage 1: done" in printed
    assert "stage 2: done" in printed
    assert "stage 3: training into" in printed
    assert trained_stages == [3]


def test_finished_stage2_tested_at_another_tts_is_taken_up_before_stage3(tmp_path):
    trained(tmp_path, (1, 2), "tts=5")
    folders = wanted(tmp_path, "tts=10")
    check_resumable(folders)
    assert [stage.done for stage in folders] == [True, True, False]


def test_unfinished_stage2_with_other_stage3_settings_is_resumed(tmp_path):
    trained(tmp_path, (1,))
    trained(tmp_path, (2,), finished=False)
    folders = wanted(tmp_path, "ttr=10")
    check_resumable(folders)
    assert not folders[1].done
    assert folders[1].checkpoint.is_file()


@pytest.mark.parametrize("finished", [True, False], ids=["finished", "started"])
@pytest.mark.parametrize("override", STAGE3_SETTINGS)
def test_stage3_trained_with_other_stage3_settings_is_refused(override, finished, tmp_path):
    trained(tmp_path, (1, 2))
    trained(tmp_path, (3,), finished=finished)
    key = override.split("=")[0]
    with pytest.raises(
        PipelineError,
        match=rf"stage3 holds a stage-3 run of another config \(keys {re.escape(key)} differ\)",
    ):
        check_resumable(wanted(tmp_path, override))


@pytest.mark.parametrize(
    "override",
    [
        "epochs.stage2=3",
        "stages.s2.init_from=/elsewhere.ckpt",
        "recon_fit=prediction",
        "model.recon_scale=4",
    ],
)
def test_other_stage2_settings_take_up_stage1_and_refuse_stage2(override, tmp_path):
    trained(tmp_path, (1, 2))
    key = override.split("=")[0]
    with pytest.raises(
        PipelineError,
        match=rf"stage2 holds a stage-2 run of another config \(keys {re.escape(key)} differ\)",
    ):
        check_resumable(wanted(tmp_path, override))


@pytest.mark.parametrize("override", STAGE1_SETTINGS)
def test_other_stage1_settings_refuse_finished_stage1_naming_the_key(override, tmp_path):
    trained(tmp_path, (1, 2))
    key = override.split("=")[0]
    with pytest.raises(
        PipelineError,
        match=rf"stage1 holds a stage-1 run of another config \(keys {re.escape(key)} differ\): "
        "remove .*stage1 to train stage 1 again from the stages before it, or choose another "
        "run_name=",
    ):
        check_resumable(wanted(tmp_path, override))
