"""The diagnostics of iterative inference (dis_seg.reports.diagnostics, dis-seg-diagnose)."""

import json

import pytest
import torch
from omegaconf import OmegaConf

from dis_seg.cli import diagnose
from dis_seg.data.images import IGNORE_INDEX
from dis_seg.models import DISNet
from dis_seg.models.losses import downsample_image, reconstruction_loss
from dis_seg.reports.diagnostics import (
    EnergyDiagnostics,
    SegmentationDiagnostics,
    StepChanges,
    TagDiagnostics,
    boundary_mask,
)
from dis_seg.reports.diagnostics.diagnose import cleaning_rule
from tests.helpers import refused_run, run_entry_point, tiny_overrides


def test_boundary_band_holds_the_pixels_within_the_radius_of_a_class_edge():
    labelmap = torch.zeros(1, 1, 10, dtype=torch.long)
    labelmap[..., 5:] = 3
    assert boundary_mask(labelmap, 2)[0, 0].tolist() == [False] * 3 + [True] * 4 + [False] * 3


def test_step_changes_count_each_pixel_by_direction_kind_and_region():
    truth = torch.tensor([[[0, 1, 2, 0, IGNORE_INDEX]]])
    initial = torch.tensor([[[0, 1, 1, 2, 1]]])
    refined = torch.tensor([[[1, 0, 2, 0, 2]]])
    boundary = torch.tensor([[[True, False, False, True, True]]])
    changes = StepChanges()
    changes.update(initial, {3: refined}, truth, boundary)
    row = changes.totals()[3]
    assert changes.pixels == 4
    assert row["right_to_wrong"] == 2
    assert row["wrong_to_right"] == 2
    assert row["right_to_wrong/background_to_object"] == 1  # pixel 0: 0 → 1
    assert row["right_to_wrong/object_to_background"] == 1  # pixel 1: 1 → 0
    assert row["wrong_to_right/object_to_object"] == 1  # pixel 2: 1 → 2
    assert row["wrong_to_right/object_to_background"] == 1  # pixel 3: 2 → 0
    assert row["right_to_wrong/boundary"] == 1
    assert row["right_to_wrong/interior"] == 1
    assert row["wrong_to_right/boundary"] == 1
    assert row["wrong_to_right/interior"] == 1


def test_truth_is_preferred_where_its_energy_is_below_the_prediction():
    energy = EnergyDiagnostics(truth=[0.1, 0.5, 0.2], initial=[0.2, 0.4, 0.3], refined=[0, 0, 0])
    summary = energy.summary()
    assert summary["truth_below_prediction_t0"] == pytest.approx(2 / 3)
    assert summary["truth_below_prediction_tts"] == 0


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5).eval()
    images = torch.randn(3, 3, 32, 32)
    labelmap = torch.randint(5, (3, 32, 32))
    return model, images, labelmap


def test_truth_energy_is_subnet2_on_the_truths_class_fractions(tiny):
    model, images, _ = tiny
    labelmap = torch.full((3, 32, 32), 2)
    diagnostics = SegmentationDiagnostics(model, 2, 1.0, [1, 2], boundary_radius=8)
    diagnostics.update(images, labelmap)
    one_hot = torch.zeros(3, 5, 4, 4)
    one_hot[:, 2] = 1
    with torch.no_grad():
        z3 = model.reconstruction_head(one_hot)
    expected = reconstruction_loss(z3, downsample_image(images, (4, 4)), reduction="none")
    assert diagnostics.energy.truth == pytest.approx(expected.tolist(), rel=1e-5)


def test_segmentation_diagnostics_report_each_step_and_the_iou_before_and_after(tiny):
    model, images, labelmap = tiny
    diagnostics = SegmentationDiagnostics(model, 5, 2e3, [0, 2, 9], boundary_radius=8)
    diagnostics.update(images, labelmap)
    results = diagnostics.results([str(c) for c in range(5)])
    assert list(results["changes"]["per_step"]) == [2, 5]
    assert set(results["iou"]) == {0, 5}
    assert results["changes"]["pixels"] == 3 * 32 * 32
    assert len(results["energy"]["per_image"]["truth"]) == 3
    assert sum(results["changes"]["per_step"][5].values()) > 0, "the steps must change pixels"


def test_tags_and_pseudo_labels_of_zero_steps_score_as_the_noisy_tags_and_plain_prediction(tiny):
    model, images, _ = tiny
    noisy = torch.tensor([[1, 1, 0, 0, 1], [1, 0, 1, 0, 0], [1, 0, 0, 1, 1.0]])
    clean = torch.tensor([[1, 1, 0, 0, 0], [1, 0, 1, 1, 0], [1, 0, 0, 1, 1.0]])
    tags = TagDiagnostics(model, 0, 1.0, tag_weight=1.0, tag_threshold=0.5)
    tags.update(images, noisy, clean, hidden_labelmap=torch.randint(5, (3, 32, 32)))
    results = tags.results([str(c) for c in range(5)])
    assert results["noisy"] == results["cleaned"]
    pseudo = results["pseudo_labels"]
    assert pseudo["mIoU_t0"] == pseudo["mIoU_ttr"] > 0
    assert results["noisy"]["precision"] == pytest.approx(4 / 5)
    assert results["noisy"]["recall"] == pytest.approx(4 / 5)
    assert results["noisy"]["per_class"]["4"]["precision"] == pytest.approx(1 / 2)


def test_diagnose_writes_the_report_its_plots_and_numbers_and_logs_them(pipeline, tmp_path):
    root = pipeline.parents[1]
    out = tmp_path / "diagnose"
    run_entry_point(
        "dis_seg.cli.diagnose",
        f"ckpt_path={pipeline / 'stage3' / 'checkpoints' / 'last.ckpt'}",
        "tts=3",
        "ttr=2",
        "logger=csv",
        f"hydra.run.dir={out}",
        *tiny_overrides(root),
    )
    for name in ("report.md", "energy.png", "changes.png", "per_class_iou.png", "tags.png"):
        assert (out / name).is_file(), name
    results = json.loads((out / "diagnostics.json").read_text())
    segmentation = results["segmentation"]
    assert segmentation["steps"] == 3
    assert results["split"] == "val"
    assert set(segmentation["changes"]["per_step"]) == {"1", "2", "3"}
    assert results["tags"]["ttr"] == 2
    assert set(results["tags"]["pseudo_labels"]) == {"mIoU_t0", "mIoU_ttr"}
    logged = next(out.glob("csv/*/metrics.csv")).read_text()
    assert "diagnose/energy/truth_below_prediction_t0" in logged
    assert "diagnose/pseudo/mIoU_ttr" in logged
    report = (out / "report.md").read_text()
    assert "Does the energy prefer the truth?" in report
    assert "| cleaned |" in report


def test_diagnose_refuses_an_unknown_split_in_one_line_naming_the_key(
    pipeline, monkeypatch, capsys
):
    arguments = [
        f"ckpt_path={pipeline / 'stage3' / 'checkpoints' / 'last.ckpt'}",
        "split=train",
        *tiny_overrides(pipeline.parents[1]),
    ]
    assert refused_run(diagnose, arguments, monkeypatch) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: split: unknown value 'train'; expected one of ('val', 'test/voc', 'test/idw')"
    ]


def test_tag_cleaning_follows_the_checkpoints_rule_where_the_config_sets_none():
    cfg = OmegaConf.create({"tag_threshold": None, "tag_margin": 0.2, "suppress_absent": None})
    trained = {"tag_threshold": 0.7, "tag_margin": 0.1, "suppress_absent": False}
    assert cleaning_rule(cfg, trained) == {
        "tag_threshold": 0.7,
        "tag_margin": 0.2,
        "suppress_absent": False,
    }
    defaults = cleaning_rule(cfg, {})
    assert defaults["tag_threshold"] == 0.5
    assert defaults["suppress_absent"] is True


def test_diagnosing_the_idw_test_split_reads_no_voc_folder(pipeline, tmp_path):
    root = pipeline.parents[1]
    out = tmp_path / "diagnose"
    run_entry_point(
        "dis_seg.cli.diagnose",
        f"ckpt_path={pipeline / 'stage3' / 'checkpoints' / 'last.ckpt'}",
        "split=test/idw",
        "tts=1",
        "ttr=1",
        *tiny_overrides(root),
        f"data.voc_root={tmp_path / 'no-voc'}",
        f"hydra.run.dir={out}",
    )
    assert json.loads((out / "diagnostics.json").read_text())["split"] == "test/idw"
