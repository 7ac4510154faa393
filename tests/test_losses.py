import pytest
import torch

from dis_seg.data.tags import tags_from_labelmap
from dis_seg.models import DISNet
from dis_seg.models.losses import reconstruction_loss, segmentation_loss, tag_loss


def test_segmentation_loss_upsamples_logits_and_ignores_255():
    logits = torch.zeros(1, 3, 2, 2)
    logits[:, 1] = 10.0
    labelmap = torch.full((1, 8, 8), 255)
    labelmap[0, :4] = 1
    assert segmentation_loss(logits, labelmap) < 1e-3
    labelmap[0, 4:] = 2
    assert segmentation_loss(logits, labelmap) > 4.0


def test_segmentation_loss_of_fully_ignored_batch_is_zero_with_gradient():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = segmentation_loss(logits, torch.full((2, 4, 4), 255))
    loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None


def test_per_sample_losses_do_not_depend_on_other_samples():
    logits, labelmap = torch.randn(3, 4, 5, 5), torch.randint(0, 4, (3, 5, 5))
    v3, tags = torch.randn(3, 4), torch.randint(0, 2, (3, 4)).float()
    z3, images = torch.randn(3, 3, 5, 5), torch.randn(3, 3, 20, 20)
    for loss, args in [
        (segmentation_loss, (logits, labelmap)),
        (tag_loss, (v3, tags)),
        (reconstruction_loss, (z3, images)),
    ]:
        batch = loss(*args, reduction="none")
        alone = loss(*(a[1:2] for a in args), reduction="none")
        assert batch.shape == (3,)
        torch.testing.assert_close(batch[1:2], alone)


def test_reconstruction_target_is_area_downsampled_image():
    images = torch.arange(16.0).view(1, 1, 4, 4).expand(1, 3, 4, 4)
    z3 = images.unfold(2, 2, 2).unfold(3, 2, 2).mean(dim=(-1, -2))
    assert reconstruction_loss(z3, images).item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("fusion", ["sum", "concat"])
def test_sum_of_three_losses_gives_every_parameter_a_gradient(fusion):
    model = DISNet("resnet18", num_classes=4, fusion=fusion)
    images = torch.randn(2, 3, 32, 32)
    labelmap = torch.randint(0, 4, (2, 32, 32))
    out = model(images)
    loss = (
        segmentation_loss(out.logits, labelmap)
        + tag_loss(out.v3, torch.stack([tags_from_labelmap(m.numpy(), 4) for m in labelmap]))
        + reconstruction_loss(out.z3, images)
    )
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
