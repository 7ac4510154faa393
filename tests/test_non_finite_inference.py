"""Iterative inference whose energy turns non-finite, through the validation callback."""

import math

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.modules import DISModule


def validate(images: torch.Tensor, step_size: float) -> dict:
    """Validate a random ResNet-18 network (subnet-2 reads logits) on one batch of ``images``
    with 6 steps; return the callback's results."""
    torch.manual_seed(0)
    model = {"backbone": "resnet18", "num_classes": 5, "recon_input": "logits"}
    module = DISModule(model=model, class_names=list("abcde"))
    batch = {
        "image": images,
        "labelmap": torch.randint(0, 5, (len(images), *images.shape[-2:])),
        "tags": torch.ones(len(images), 5),
    }
    callback = IterativeInferenceCallback(tts=6, step_size=step_size, schedule=[0, 1, 6])
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.validate(module, DataLoader([batch], batch_size=None), verbose=False)
    return callback.results["val"]


def test_callback_warns_with_the_count_of_diverging_samples_and_logs_finite_metrics():
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    images[1] *= 1e17  # a finite energy whose steps overflow float32
    with pytest.warns(RuntimeWarning, match="the energy of 1 of 3 samples became non-finite"):
        results = validate(images, step_size=1e4)
    curve = {key: value for key, value in results.items() if key.startswith(("mIoU", "recon"))}
    assert len(curve) == 6 and all(math.isfinite(value) for value in curve.values())


def test_diverging_samples_keep_their_last_finite_iterate_in_the_mIoU_curve():
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with pytest.warns(RuntimeWarning, match="3 of 3 samples"):
        results = validate(images, step_size=1e30)  # every energy overflows at the first step
    for t in (1, 6):
        assert results[f"mIoU_t{t}"] == results["mIoU_t0"]
        assert results[f"recon_error_t{t}"] == results["recon_error_t0"]
