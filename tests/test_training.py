import csv
import json
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dis_seg.cli import train
from dis_seg.inference import predict
from dis_seg.models import DISNet
from dis_seg.runs.checkpoints import load_module
from dis_seg.stages import Stage1Module, Stage3Module
from dis_seg.stages.pseudo_labels import make_pseudo_labels
from tests.helpers import copy_run, numpy_miou, refused_run, run_entry_point, tiny_overrides


def network_state(checkpoint_path):
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)["state_dict"]
    return {key: value for key, value in state.items() if key.startswith("model.")}


def plain_test_mious(run) -> dict[str, float]:
    """The mIoU of the plain predictions of ``run``'s last.ckpt on each test set of its data,
    by the name of the set, from numpy."""
    module, _ = load_module(run / "checkpoints" / "last.ckpt")
    datamodule = instantiate(OmegaConf.load(run / ".hydra" / "config.yaml").data)
    datamodule.setup("test")
    model = module.model.eval()
    mious = {}
    for name, loader in zip(datamodule.test_names, datamodule.test_dataloader(), strict=True):
        predictions, labelmaps = [], []
        with torch.no_grad():
            for batch in loader:
                predictions += list(model(batch["image"]).logits.argmax(1).numpy())
                labelmaps += list(batch["labelmap"].numpy())
        mious[name] = numpy_miou(predictions, labelmaps, model.num_classes)
    return mious


def test_metrics_json_holds_one_block_of_test_metrics_per_test_set(pipeline):
    metrics = json.loads((pipeline / "stage3" / "metrics.json").read_text())
    assert (metrics["stage"], metrics["ttr"], metrics["tts"]) == (3, 3, 2)
    assert list(metrics["test"]) == ["voc", "idw"]
    for block in metrics["test"].values():
        assert {"mIoU_t0", "mIoU_t1", "mIoU_t2", "tag_mAP", "pixel_accuracy"} <= set(block)
        assert all(0 <= block[f"mIoU_t{t}"] <= 1 for t in (0, 1, 2))
        assert list(block["per_class_IoU"])[:2] == ["background", "aeroplane"]
        assert block["non_finite_samples"] == 0
    for name, expected in plain_test_mious(pipeline / "stage3").items():
        assert metrics["test"][name]["mIoU_t0"] == pytest.approx(expected, abs=1e-9), name
    assert {"pseudo/mIoU", "pseudo/mIoU_t0", "tags/cleaned_F1", "tags/noisy_F1"} <= set(
        metrics["training"]
    )
    assert metrics["training"]["pseudo/non_finite_samples"] == 0
    stage1 = json.loads((pipeline / "stage1" / "metrics.json").read_text())
    assert (stage1["stage"], stage1["ttr"], stage1["tts"]) == (1, 0, 0)
    assert list(stage1["test"]) == ["voc", "idw"]


@pytest.fixture(scope="module")
def stage1_multirun(tmp_path_factory):
    """The job folders of ``dis-seg-train -m stage=1 seed=0,1 logger=wandb callbacks=none`` on
    tiny data."""
    root = tmp_path_factory.mktemp("multirun")
    run_entry_point(
        "dis_seg.cli.train",
        "-m",
        "stage=1",
        "seed=0,1",
        "logger=wandb",
        "callbacks=none",
        *tiny_overrides(root),
    )
    return sorted((root / "outputs" / "synthetic" / "multirun").glob("*/stage1_*"))


@pytest.mark.slow
def test_the_evaluation_runs_whatever_the_callbacks_group_holds(stage1_multirun):
    for job in stage1_multirun:
        metrics = json.loads((job / "metrics.json").read_text())
        assert {"mIoU_t0", "per_class_IoU", "tag_mAP"} <= set(metrics["test"]["voc"])
        assert {"mIoU_t0", "per_class_IoU", "tag_mAP"} <= set(metrics["test"]["idw"])


def test_stage2_keeps_everything_but_subnet2_bitwise_including_bn_statistics(pipeline):
    stage1 = network_state(pipeline / "stage1" / "checkpoints" / "last.ckpt")
    stage2 = network_state(pipeline / "stage2" / "checkpoints" / "last.ckpt")
    assert any("running_mean" in key for key in stage1)
    for key, value in stage1.items():
        if key.startswith("model.reconstruction_head."):
            assert not torch.equal(value, stage2[key]), key
        else:
            assert torch.equal(value, stage2[key]), key


def test_stage3_starts_from_stage2_and_trains_all_four_components(pipeline):
    stage2 = network_state(pipeline / "stage2" / "checkpoints" / "last.ckpt")
    stage3 = network_state(pipeline / "stage3" / "checkpoints" / "last.ckpt")
    for part in ("backbone", "labelmap_head", "reconstruction_head", "tag_head"):
        keys = [key for key in stage2 if key.startswith(f"model.{part}.") and "weight" in key]
        assert any(not torch.equal(stage2[key], stage3[key]) for key in keys), part


def test_missing_stage_checkpoint_error_says_which_make_target_to_run(
    tmp_path, monkeypatch, capsys
):
    arguments = ["stage=3", "logger=none", *tiny_overrides(tmp_path)]
    assert refused_run(train, arguments, monkeypatch) == 2
    error = capsys.readouterr().err
    assert "stage2/checkpoints/last.ckpt does not exist" in error
    assert "make train-stage2" in error


def test_incompatible_stage_checkpoint_error_names_file_and_make_target(pipeline, tmp_path):
    checkpoint = pipeline / "stage1" / "checkpoints" / "last.ckpt"
    result = run_entry_point(
        "dis_seg.cli.train",
        "stage=2",
        "logger=none",
        "model.backbone=resnet34",
        f"stages.s2.init_from={checkpoint}",
        *tiny_overrides(tmp_path),
        check=False,
    )
    assert result.returncode != 0
    assert "does not fit" in result.stderr
    assert "make train-stage1" in result.stderr


def test_resume_from_last_checkpoint_continues_the_global_step(pipeline, tmp_path):
    stage1 = copy_run(pipeline / "stage1", tmp_path / "synthetic" / "stage1")
    last = stage1 / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 2  # one epoch of two batches
    overrides = [*tiny_overrides(pipeline.parents[1]), f"paths.output_root={tmp_path}"]
    run_entry_point(
        "dis_seg.cli.train",
        *overrides,
        "stage=1",
        "logger=csv",
        "trainer.max_epochs=2",
        "ckpt_path=last",
    )
    assert torch.load(last, weights_only=True)["global_step"] == 4
    with (stage1 / "csv" / "version_1" / "metrics.csv").open() as rows:
        epochs = {row["epoch"] for row in csv.DictReader(rows) if row["epoch"]}
    assert "0" not in epochs  # the resumed run trained the second epoch only
    assert "1" in epochs


@pytest.mark.slow
def test_wandb_writes_offline_run_files_one_run_per_multirun_job(stage1_multirun):
    assert [job.name for job in stage1_multirun] == [
        "stage1_ttr3_tts0_seed0",
        "stage1_ttr3_tts0_seed1",
    ]
    for job in stage1_multirun:
        runs = list((job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1
        assert list(runs[0].glob("run-*.wandb"))
        assert (job / "metrics.json").is_file()


@pytest.fixture
def tagged_batch():
    """A random ResNet-18 DIS net (C = 5), two 32×32 images with tags, and their features."""
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5)
    images = torch.randn(2, 3, 32, 32)
    tags = torch.tensor([[1.0, 1, 0, 1, 0], [1, 0, 1, 0, 1]])
    with torch.no_grad():
        u1, v1 = model.encode(images)
    return model, images, tags, u1, v1


def test_ttr_steps_change_the_pseudo_labels_of_ttr_zero(tagged_batch):
    model, images, tags, u1, v1 = tagged_batch
    common = {"step_size": 3e3, "tag_threshold": 0.0, "suppress_absent": False}
    plain = make_pseudo_labels(model, u1, v1, images, tags, ttr=0, **common)
    refined = make_pseudo_labels(model, u1, v1, images, tags, ttr=10, **common)
    assert torch.equal(plain.labelmap, plain.initial_labelmap)
    assert torch.equal(refined.initial_labelmap, plain.labelmap)
    assert (refined.labelmap != plain.labelmap).float().mean() > 0.05


def in_tags(labelmap: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
    """B×H×W bool: whether each pixel's class (B×H×W) is among its sample's tags (B×C)."""
    return tags.bool().gather(1, labelmap.flatten(1)).view_as(labelmap)


def test_suppression_keeps_pseudo_labels_within_the_cleaned_tags(tagged_batch):
    model, images, tags, u1, v1 = tagged_batch
    common = {"ttr": 2, "step_size": 10.0, "tag_threshold": 0.5}
    pseudo = make_pseudo_labels(model, u1, v1, images, tags, **common)
    free = make_pseudo_labels(model, u1, v1, images, tags, suppress_absent=False, **common)
    assert torch.equal(pseudo.tags, free.tags)
    assert (pseudo.tags[:, 0] == 1).all()
    for name in ("labelmap", "initial_labelmap"):
        suppressed, unsuppressed = getattr(pseudo, name), getattr(free, name)
        kept = in_tags(unsuppressed, pseudo.tags)
        assert not kept.all(), f"{name}: unsuppressed, some pixels take classes not tagged"
        assert in_tags(suppressed, pseudo.tags).all(), name
        assert torch.equal(suppressed[kept], unsuppressed[kept]), name


def test_pseudo_confidence_leaves_the_less_probable_pixels_out_of_the_target(tagged_batch):
    model, images, tags, u1, v1 = tagged_batch
    common = {"ttr": 2, "step_size": 10.0, "tag_threshold": 0.5}
    every = make_pseudo_labels(model, u1, v1, images, tags, **common)
    assert every.confident.all()
    assert torch.equal(every.target(), every.labelmap)
    scores = predict(model, images, steps=2, step_size=10.0, tags=tags, features=(u1, v1))
    probability = scores.logits(allowed=every.tags).softmax(1).amax(1)
    threshold = probability.median().item()
    some = make_pseudo_labels(model, u1, v1, images, tags, confidence=threshold, **common)
    assert torch.equal(some.labelmap, every.labelmap)
    assert torch.equal(some.confident, probability >= threshold)
    assert 0 < some.confident.float().mean() < 1
    assert (some.target()[~some.confident] == 255).all()
    assert torch.equal(some.target()[some.confident], every.labelmap[some.confident])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_pseudo_labels_report_non_finite_refinement_in_stopped_without_a_warning(
    diverging_features,
):
    model, u1, v1, images = diverging_features
    pseudo = make_pseudo_labels(
        model, u1, v1, images, torch.ones(3, 5), ttr=6, step_size=1e4, tag_threshold=0.5
    )
    assert pseudo.stopped.tolist() == [False, True, False]


def test_tag_margin_keeps_given_tags_below_the_threshold_and_adds_others_only_above_it(
    tagged_batch,
):
    model, images, tags, u1, v1 = tagged_batch
    common = {"ttr": 3, "step_size": 10.0, "tag_weight": 0.1}
    scores = predict(model, images, steps=3, step_size=10.0, tags=tags, tag_weight=0.1)
    scores = scores.tag_scores()
    for threshold, margin in ((0.5, 0.0), (0.5, 0.3), (scores.median().item(), 0.05)):
        pseudo = make_pseudo_labels(
            model, u1, v1, images, tags, tag_threshold=threshold, tag_margin=margin, **common
        )
        kept = (tags > 0) & (scores >= threshold - margin)
        added = (tags == 0) & (scores >= threshold + margin)
        expected = (kept | added).float()
        expected[:, 0] = 1
        assert torch.equal(pseudo.tags, expected), (threshold, margin)


def scheduled_lrs(module, monkeypatch, steps: int, epochs: int) -> list[float]:
    """The backbone LR of each of ``steps`` optimizer steps of ``module`` over ``epochs``."""
    trainer = SimpleNamespace(estimated_stepping_batches=steps, max_epochs=epochs)
    monkeypatch.setattr(module, "_trainer", trainer)
    configured = module.configure_optimizers()
    optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_stages_1_and_3_sharing_a_schedule_run_that_of_stage1_trained_as_long(monkeypatch):
    model = {"backbone": "resnet18", "num_classes": 5}
    optimizer = {"name": "adamw", "lr": 1e-3}
    as_long = scheduled_lrs(Stage1Module(model, optimizer), monkeypatch, steps=70, epochs=7)
    first = scheduled_lrs(
        Stage1Module(model, optimizer, lr_epochs_after=3), monkeypatch, steps=40, epochs=4
    )
    warmup = 5
    then = scheduled_lrs(
        Stage3Module(model, optimizer, recon_fit="truth", lr_epochs_before=4, warmup_steps=warmup),
        monkeypatch,
        steps=30,
        epochs=3,
    )
    assert first == pytest.approx(as_long[:40])
    assert then[warmup:] == pytest.approx(as_long[40 + warmup :])
    ramp = [(step + 1) / warmup * lr for step, lr in enumerate(as_long[40 : 40 + warmup])]
    assert then[:warmup] == pytest.approx(ramp)
    assert as_long[0] == pytest.approx(1e-3)


def test_a_shared_schedule_without_epochs_names_its_keys(monkeypatch):
    module = Stage1Module(
        {"backbone": "resnet18", "num_classes": 5}, {"name": "adamw"}, lr_epochs_after=2
    )
    with pytest.raises(ValueError, match=r"lr_epochs_before/lr_epochs_after.*max_epochs is -1"):
        scheduled_lrs(module, monkeypatch, steps=10, epochs=-1)


def test_stage3_lr_mult_scales_the_lr_of_every_parameter_group(monkeypatch):
    optimizer = {"name": "adamw", "lr": 1e-3, "head_lr_mult": 2.0}
    lrs = {}
    for mult in (1.0, 0.1):
        module = Stage3Module(
            model={"backbone": "resnet18", "num_classes": 5},
            optimizer=optimizer,
            recon_fit="truth",
            lr_mult=mult,
        )
        monkeypatch.setattr(module, "_trainer", SimpleNamespace(estimated_stepping_batches=10))
        configured = module.configure_optimizers()["optimizer"]
        lrs[mult] = [group["lr"] for group in configured.param_groups]
    assert lrs[1.0] == pytest.approx([1e-3, 2e-3])
    assert lrs[0.1] == pytest.approx([1e-4, 2e-4])
