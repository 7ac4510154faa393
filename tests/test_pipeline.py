"""``dis-seg-pipeline`` end to end on tiny data: its stages run as the jobs of one Hydra
multirun into the folders single runs use, and a stage that fails ends it."""

import json

import pytest
import yaml

from dis_seg.cli import pipeline
from tests.helpers import run_entry_point, tiny_overrides


def test_the_stages_train_as_one_multirun_into_the_folders_of_single_runs(tmp_path):
    result = run_entry_point("dis_seg.cli.pipeline", "logger=csv", *tiny_overrides(tmp_path))
    run_dir = tmp_path / "outputs" / "synthetic"
    for stage in (1, 2, 3):
        folder = run_dir / f"stage{stage}"
        assert json.loads((folder / "metrics.json").read_text())["stage"] == stage
        hydra = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert (hydra["mode"], hydra["job"]["num"]) == ("MULTIRUN", stage - 1)
        assert (folder / "checkpoints" / "last.ckpt").is_file()
    assert "| stage-3 test mIoU, tts=0 |" in result.stdout
    again = run_entry_point("dis_seg.cli.pipeline", "logger=csv", *tiny_overrides(tmp_path))
    assert "stage 3: done" in again.stdout


def test_a_failing_stage_ends_the_pipeline_before_the_next_one(tmp_path):
    result = run_entry_point(
        "dis_seg.cli.pipeline",
        "logger=none",
        "stages.s2.module._target_=dis_seg.stages.NoSuchModule",
        *tiny_overrides(tmp_path),
        check=False,
    )
    run_dir = tmp_path / "outputs" / "synthetic"
    assert result.returncode != 0
    assert (run_dir / "stage1" / "metrics.json").is_file()
    assert not (run_dir / "stage2" / "metrics.json").exists()
    assert not (run_dir / "stage3").exists()


def test_a_stage_folder_moved_by_hydra_run_dir_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="hydra.run.dir puts stage 1 into .*elsewhere"):
        pipeline.main([f"paths.output_root={tmp_path}", f"hydra.run.dir={tmp_path}/elsewhere"])


def test_the_stages_share_a_process_on_one_device_only():
    assert pipeline.on_one_device([]) and pipeline.on_one_device(["trainer=gpu"])
    assert not pipeline.on_one_device(["trainer=ddp"])
    assert not pipeline.on_one_device(["trainer=gpu", "trainer.devices=2"])
    assert not pipeline.on_one_device(["+trainer.num_nodes=2"])
