"""Stage 3's pseudo labels start from eval-mode features by default: the features of a tag-only
image do not depend on the other images of its batch, as at test time."""

import torch

from dis_seg.data.random_batch import random_training_batch
from dis_seg.stages import Stage3Module, stage3


def features_of_one_image(pseudo_features: str, others_seed: int, monkeypatch) -> torch.Tensor:
    """u1 that a training step of stage 3 starts the pseudo labels of one tag-only image from,
    in a batch whose other images are drawn with ``others_seed``."""
    torch.manual_seed(0)
    module = Stage3Module(
        model={"backbone": "resnet18", "num_classes": 5},
        recon_fit="truth",
        ttr=1,
        pseudo_features=pseudo_features,
    ).train()
    batch = random_training_batch(4, 32, 5, generator=torch.Generator().manual_seed(1))
    others = random_training_batch(4, 32, 5, generator=torch.Generator().manual_seed(others_seed))
    batch["image"][[0, 1, 3]] = others["image"][[0, 1, 3]]  # image 2 is tag-only
    started_from = []
    make = stage3.make_pseudo_labels

    def recording(model, u1, *arguments, **options):
        started_from.append(u1[0].clone())
        return make(model, u1, *arguments, **options)

    monkeypatch.setattr(stage3, "make_pseudo_labels", recording)
    monkeypatch.setattr(module, "log", lambda *args, **kwargs: None)
    module.training_step(batch, 0)
    return started_from[0]


def test_eval_mode_features_of_an_image_ignore_the_rest_of_its_batch(monkeypatch):
    first = features_of_one_image("eval", 2, monkeypatch)
    assert torch.equal(first, features_of_one_image("eval", 3, monkeypatch))


def test_train_mode_features_depend_on_the_batch_statistics(monkeypatch):
    first = features_of_one_image("train", 2, monkeypatch)
    assert not torch.allclose(first, features_of_one_image("train", 3, monkeypatch))
