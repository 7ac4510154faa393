"""Iterative inference whose energy turns non-finite, through the validation callback."""

import math
import warnings

import pytest
import torch
from torch.utils.data import DataLoader

from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.data.random_batch import random_training_batch
from dis_seg.stages import DISModule, Stage3Module
from tests.helpers import quiet_trainer


def validate(batches: list[torch.Tensor], step_size: float) -> dict:
    """Validate a random ResNet-18 network (subnet-2 reads logits) on the image batches
    ``batches`` with 6 steps; return the callback's results."""
    torch.manual_seed(0)
    model = {"backbone": "resnet18", "num_classes": 5, "recon_input": "logits"}
    module = DISModule(model=model, class_names=list("abcde"))
    data = [
        {
            "image": images,
            "labelmap": torch.randint(0, 5, (len(images), *images.shape[-2:])),
            "tags": torch.ones(len(images), 5),
        }
        for images in batches
    ]
    callback = IterativeInferenceCallback(tts=6, step_size=step_size, schedule=[0, 1, 6])
    trainer = quiet_trainer(callbacks=[callback])
    trainer.validate(module, DataLoader(data, batch_size=None), verbose=False)
    return callback.results["val"]


def images_with_one_overflowing(seed: int) -> torch.Tensor:
    """3×3×32×32 images; the second has a finite energy whose steps overflow float32."""
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    images[1] *= 1e17
    return images


def test_callback_warns_with_the_count_of_diverging_samples_and_logs_finite_metrics():
    with pytest.warns(RuntimeWarning, match="the energy of 1 of 3 samples became non-finite"):
        results = validate([images_with_one_overflowing(1)], step_size=1e4)
    curve = {key: value for key, value in results.items() if key.startswith(("mIoU", "recon"))}
    assert len(curve) == 6
    assert all(math.isfinite(value) for value in curve.values())
    assert results["non_finite_samples"] == 1


def test_callback_warns_once_an_epoch_with_the_count_over_all_batches():
    batches = [images_with_one_overflowing(seed) for seed in (1, 2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = validate(batches, step_size=1e4)
    messages = [str(w.message) for w in caught if "non-finite" in str(w.message)]
    assert len(messages) == 1
    assert "2 of 6 samples" in messages[0]
    assert results["non_finite_samples"] == 2


def test_diverging_samples_keep_their_last_finite_iterate_in_the_mIoU_curve():
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with pytest.warns(RuntimeWarning, match="3 of 3 samples"):
        results = validate([images], step_size=1e30)  # every energy overflows at the first step
    for t in (1, 6):
        assert results[f"mIoU_t{t}"] == results["mIoU_t0"]
        assert results[f"recon_error_t{t}"] == results["recon_error_t0"]


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no")
def test_stage3_warns_once_an_epoch_with_the_count_of_diverging_pseudo_labels():
    torch.manual_seed(0)
    model = {"backbone": "resnet18", "num_classes": 5, "recon_input": "logits"}
    module = Stage3Module(
        model=model, recon_fit="truth", ttr=2, step_size=1e30
    )  # every energy overflows
    generator = torch.Generator().manual_seed(0)
    batches = [random_training_batch(4, 32, 5, generator=generator) for _ in range(2)]
    trainer = quiet_trainer(max_epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    messages = [str(w.message) for w in caught if "non-finite" in str(w.message)]
    assert messages == [
        "epoch 0 pseudo labels: the energy of 4 of 4 samples became non-finite; they keep "
        "their last finite iterate (lower the step size)"
    ]
    assert trainer.callback_metrics["pseudo/non_finite_samples"] == 4
