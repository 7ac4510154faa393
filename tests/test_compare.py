"""The comparison of DIS with its baselines: rows trained as long, mIoU from summed confusion
matrices, and paired-bootstrap intervals over seeds and test images."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from dis_seg.models.metrics import segmentation_scores
from dis_seg.reports.compare import (
    BASELINES,
    ROWS,
    Bootstrap,
    against_baselines,
    interval,
    miou,
    report,
)
from dis_seg.runs.compare import arm_runs, run_command
from tests.helpers import run_entry_point, tiny_overrides

EPOCHS = {"stage1": 4, "stage2": 1, "stage3": 3}


def test_every_row_trains_as_many_epochs_and_the_supervised_one_without_tag_only_images():
    folder = Path("/compare/seed0")
    supervised = arm_runs("supervised", EPOCHS, 8, folder)
    assert [run.stage for run in supervised] == [1, 2]
    whole_schedule = {"epochs.stage1=7", "stages.s1.module.lr_epochs_after=0"}  # E1 + E3
    assert whole_schedule <= set(supervised[0].overrides)
    assert {"data.idw_annotations=null", "data.batch_size=8"} <= set(supervised[0].overrides)
    assert whole_schedule <= set(arm_runs("stage1", EPOCHS, 8, folder)[0].overrides)
    ttr0, ttr30 = arm_runs("stage3", EPOCHS, 8, folder)[2:]
    assert "ttr=0" in ttr0.overrides
    assert "ttr=30" in ttr30.overrides
    shared = "stages.s3.init_from=/compare/seed0/ttr0/stage2/checkpoints/last.ckpt"
    assert shared in ttr30.overrides
    command = run_command(ttr30, folder, ["debug=tiny"])
    assert command[:3] == [sys.executable, "-m", "dis_seg.cli.train"]
    assert {"run_name=ttr30", "evaluation.per_image=true", "ckpt_path=last"} <= set(command)


def test_miou_of_summed_confusions_is_the_metrics_one():
    rng = np.random.default_rng(0)
    confusions = rng.integers(0, 50, size=(3, 5, 5))
    confusions[1, 4] = confusions[1, :, 4] = 0  # a class absent from truth and prediction
    for matrix in confusions:
        expected = segmentation_scores(torch.from_numpy(matrix))["mIoU"]
        assert miou(matrix) == pytest.approx(float(expected))
    assert miou(confusions).shape == (3,)


def test_the_bootstrap_pairs_the_rows_on_the_same_draws():
    rng = np.random.default_rng(1)
    confusions = {seed: rng.integers(0, 20, size=(30, 4, 4)) for seed in (0, 1, 2)}
    better = {seed: m + 5 * np.eye(4, dtype=m.dtype) for seed, m in confusions.items()}
    sampler = Bootstrap.drawn({seed: 30 for seed in confusions}, 200, rng)
    same = sampler.scores(confusions) - sampler.scores(confusions)
    assert not same.any()
    gains = sampler.scores(better) - sampler.scores(confusions)
    assert (gains > 0).all()  # more hits on every image: every draw sees the gain
    assert sampler.seeds.shape == (200, 3)
    assert set(np.unique(sampler.seeds)) <= {0, 1, 2}


def test_dis_is_set_against_every_baseline_at_each_t_on_the_same_draws():
    rng = np.random.default_rng(2)
    scores = {(row, t): rng.normal(0.4, 0.05, 100) for row in ROWS for t in (0, 30)}
    scores["stage1", 30] = scores["ttr30", 30].copy()  # a baseline as good as DIS
    means = {key: float(values.mean()) for key, values in scores.items()}
    against = against_baselines(scores, means, 30)
    assert set(against) == {f"{row}/t{t}" for row in BASELINES for t in (0, 30)}
    assert against["stage1/t30"] == {"difference": 0.0, "interval": (0.0, 0.0)}
    gap = scores["ttr30", 0] - scores["ttr0", 0]
    assert against["ttr0/t0"]["interval"] == pytest.approx(interval(gap))
    assert against["ttr0/t0"]["difference"] == pytest.approx(100 * gap.mean())


@pytest.mark.slow
def test_make_compare_trains_every_row_on_a_seed_and_reports_its_table(tmp_path):
    root = tmp_path / "root"
    train = ",".join(f"'{override}'" for override in [*tiny_overrides(root), "logger=none"])
    run_entry_point(
        "dis_seg.cli.compare",
        "-m",
        "data_seed=0",
        "arm=supervised,stage1,stage3",
        f"compare_dir={tmp_path / 'compare'}",
        f"paths.data_dir={root / 'data'}",
        f"train=[{train}]",
    )
    seed = tmp_path / "compare" / "seed0"
    for row, (_, stage) in ROWS.items():
        assert (seed / row / stage / "confusions.npz").is_file(), row
    supervised = yaml.safe_load(
        (seed / "supervised" / "stage1" / ".hydra" / "overrides.yaml").read_text()
    )
    assert "data.idw_annotations=null" in supervised
    tables = report(tmp_path / "compare")
    assert "DIS, stage 3, ttr=30" in tables
    assert "supervised only" in tables
    assert "| DIS − row at the same t (points) |" in tables
    result = json.loads((tmp_path / "compare" / "compare.json").read_text())
    assert result["seeds"] == [0]
    assert set(result["splits"]) == {"voc", "idw"}
    assert (tmp_path / "compare" / "compare.png").is_file()
