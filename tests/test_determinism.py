"""Same seed, same metrics.json: training and testing are deterministic on CPU."""

from tests.helpers import run_entry_point, tiny_overrides


def test_same_seed_twice_gives_an_identical_stage3_metrics_json(pipeline, tmp_path):
    stage2 = pipeline / "stage2" / "checkpoints" / "last.ckpt"
    run_entry_point(
        "dis_seg.cli.train",
        "stage=3",
        "logger=csv",
        *tiny_overrides(pipeline.parents[1]),
        f"paths.output_root={tmp_path}",
        f"stages.s3.init_from={stage2}",
    )
    again = (tmp_path / "synthetic" / "stage3" / "metrics.json").read_text()
    assert again == (pipeline / "stage3" / "metrics.json").read_text()
