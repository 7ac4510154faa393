from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.data import DISDataModule
from dis_seg.data.random_batch import random_training_batch
from dis_seg.runs.checkpoints import load_module
from dis_seg.stages import DISModule
from tests.helpers import numpy_miou, quiet_trainer, tiny_voc_root

TTS, SCHEDULE = 3, (0, 2, 10)


class InferenceModeProbe(pl.Callback):
    """Records whether each validation batch ends under ``torch.inference_mode``."""

    def __init__(self):
        self.enabled = []

    def on_validation_batch_end(self, *args, **kwargs):
        self.enabled.append(torch.is_inference_mode_enabled())


@pytest.fixture(scope="module")
def validated(pipeline):
    """The stage-3 checkpoint validated by a default Trainer (inference_mode=True) with the
    callback; backbone forward calls counted by a hook."""
    module, _ = load_module(pipeline / "stage3" / "checkpoints" / "last.ckpt")
    datamodule = DISDataModule(voc_root=tiny_voc_root(pipeline.parents[1]), val_split="val")
    backbone_calls = []
    module.model.backbone.register_forward_hook(lambda *args: backbone_calls.append(1))
    callback = IterativeInferenceCallback(tts=TTS, step_size=1.0, schedule=SCHEDULE)
    probe = InferenceModeProbe()
    trainer = quiet_trainer(callbacks=[probe, callback])
    trainer.validate(module, datamodule=datamodule)
    return SimpleNamespace(
        trainer=trainer,
        callback=callback,
        module=module,
        datamodule=datamodule,
        backbone_calls=len(backbone_calls),
        inference_mode=probe.enabled,
    )


def test_mIoU_at_t0_equals_the_plain_prediction_mIoU_from_numpy(validated):
    model = validated.module.model
    predictions, labelmaps = [], []
    with torch.no_grad():
        for batch in validated.datamodule.val_dataloader():
            predictions += list(model(batch["image"]).logits.argmax(1).numpy())
            labelmaps += list(batch["labelmap"].numpy())
    expected = numpy_miou(predictions, labelmaps, model.num_classes)
    assert validated.callback.results["val"]["mIoU_t0"] == pytest.approx(expected, abs=1e-12)


def test_curve_is_logged_for_every_scheduled_step_plus_tts(validated):
    logged, results = validated.trainer.callback_metrics, validated.callback.results["val"]
    assert validated.callback.steps == [0, 2, TTS]
    for t in (0, 2, TTS):
        assert f"val/mIoU_t{t}" in logged
        assert f"val/recon_error_t{t}" in logged
        assert 0 <= results[f"mIoU_t{t}"] <= 1
    assert not any(f"mIoU_t{t}" in results for t in (1, 10))


def test_steps_descend_under_lightning_default_inference_mode(validated):
    assert validated.inference_mode
    assert all(validated.inference_mode)
    results = validated.callback.results["val"]
    assert results[f"recon_error_t{TTS}"] < results["recon_error_t2"] < results["recon_error_t0"]


def test_validation_runs_the_backbone_once_per_batch(validated):
    assert validated.backbone_calls == len(validated.datamodule.val_dataloader()) > 0


def test_validation_in_batches_gives_the_metrics_of_one_image_at_a_time(validated, pipeline):
    datamodule = DISDataModule(
        voc_root=tiny_voc_root(pipeline.parents[1]),
        val_split="val",
        eval_batch_size=3,
    )
    callback = IterativeInferenceCallback(tts=TTS, step_size=1.0, schedule=SCHEDULE)
    quiet_trainer(callbacks=[callback]).validate(validated.module, datamodule=datamodule)
    batched, alone = callback.results["val"], validated.callback.results["val"]
    assert len(next(iter(datamodule.val_dataloader()))["image"]) == 3
    assert batched.keys() == alone.keys()
    for name, value in alone.items():
        if isinstance(value, float):
            assert batched[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def test_each_test_loader_is_scored_apart_under_its_own_name():
    torch.manual_seed(0)
    module = DISModule(model={"backbone": "resnet18", "num_classes": 5}, class_names=list("abcde"))
    generator = torch.Generator().manual_seed(0)
    loaders = [
        DataLoader([random_training_batch(4, 32, 5, generator=generator)], batch_size=None)
        for _ in range(2)
    ]

    def scores(dataloaders):
        callback = IterativeInferenceCallback(tts=TTS, step_size=1.0, schedule=SCHEDULE)
        trainer = quiet_trainer(callbacks=[callback])
        trainer.test(module, dataloaders=dataloaders, verbose=False)
        return callback.results, trainer.callback_metrics

    together, logged = scores(loaders)
    assert sorted(together) == ["test/0", "test/1"]
    assert {"test/0/mIoU_t3", "test/1/mIoU_t3", "test/0/tag_mAP", "test/1/tag_mAP"} <= set(logged)
    for index, loader in enumerate(loaders):
        alone, _ = scores(loader)
        assert together[f"test/{index}"] == alone["test"]
    assert together["test/0"]["mIoU_t0"] != together["test/1"]["mIoU_t0"]
