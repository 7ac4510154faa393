"""``dis-seg-pipeline`` end to end on tiny data: its stages run as the jobs of one Hydra
multirun into the folders single runs use, and a stage that fails ends it."""

import json

import pytest
import yaml

from dis_seg.cli import pipeline as command
from tests.helpers import copy_run, folder_state, run_entry_point, tiny_overrides


def test_the_stages_train_as_one_multirun_into_the_folders_of_single_runs_and_a_rerun_skips_them(
    pipeline, capsys
):
    for stage in (1, 2, 3):
        folder = pipeline / f"stage{stage}"
        assert json.loads((folder / "metrics.json").read_text())["stage"] == stage
        hydra = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert (hydra["mode"], hydra["job"]["num"]) == ("MULTIRUN", stage - 1)
        assert (folder / "checkpoints" / "last.ckpt").is_file()
    before = folder_state(pipeline)
    command.main(["logger=csv", *tiny_overrides(pipeline.parents[1])])
    again = capsys.readouterr().out
    assert "stage 3: done" in again
    assert "| stage-3 test mIoU, tts=0 |" in again
    assert folder_state(pipeline) == before


def test_a_failing_stage_ends_the_pipeline_before_the_next_one(pipeline, tmp_path):
    run_dir = tmp_path / "outputs" / "synthetic"
    copy_run(pipeline / "stage1", run_dir / "stage1")
    result = run_entry_point(
        "dis_seg.cli.pipeline",
        "logger=csv",
        "stages.s2.module._target_=dis_seg.stages.NoSuchModule",
        *tiny_overrides(pipeline.parents[1]),
        f"paths.output_root={tmp_path / 'outputs'}",
        check=False,
    )
    assert result.returncode != 0
    assert "stage 1: done" in result.stdout
    assert "stage 2: training into" in result.stdout
    assert not (run_dir / "stage2" / "metrics.json").exists()
    assert not (run_dir / "stage3").exists()


def test_a_stage_folder_moved_by_hydra_run_dir_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="hydra.run.dir puts stage 1 into .*elsewhere"):
        command.main([f"paths.output_root={tmp_path}", f"hydra.run.dir={tmp_path}/elsewhere"])


def test_the_stages_share_a_process_on_one_device_only():
    assert command.on_one_device([])
    assert command.on_one_device(["trainer=gpu"])
    assert not command.on_one_device(["trainer=ddp"])
    assert not command.on_one_device(["trainer=gpu", "trainer.devices=2"])
    assert not command.on_one_device(["+trainer.num_nodes=2"])
