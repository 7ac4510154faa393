import pytest
import torch
import torchvision
from torch import nn

from dis_seg.models import RESNETS, DISNet
from dis_seg.models.backbone import ResNetBackbone, dilate_resnet_layer


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("backbone", RESNETS)
def test_every_backbone_gives_documented_shapes_at_output_stride(backbone, output_stride):
    # On the meta device: every shape, none of the weights or arithmetic.
    size = (48, 40) if backbone in ("resnet101", "resnet152") else (64, 80)
    with torch.device("meta"):
        model = DISNet(backbone, num_classes=7, output_stride=output_stride).eval()
        out = model(torch.randn(2, 3, *size))
    d = 512 if backbone in ("resnet18", "resnet34") else 2048
    h, w = (-(-s // output_stride) for s in size)
    assert out.u1.shape == (2, d, h, w)
    assert out.v1.shape == (2, d)
    assert out.u3.shape == (2, 7, h, w)
    assert out.z3.shape == (2, 3, h, w)
    assert out.v3.shape == (2, 7)
    assert out.logits.shape == (2, 7, *size)


def test_basicblock_dilation_matches_bottleneck_rule_of_torchvision():
    ours = torchvision.models.resnet50()
    dilation = dilate_resnet_layer(ours.layer3, 1)
    dilate_resnet_layer(ours.layer4, dilation)
    reference = torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True])
    for (name, a), (_, b) in zip(ours.named_modules(), reference.named_modules(), strict=True):
        if isinstance(a, torch.nn.Conv2d):
            assert (a.stride, a.dilation, a.padding) == (b.stride, b.dilation, b.padding), name


def test_dilated_resnet18_trades_layer3_layer4_strides_for_dilation_2_and_4():
    backbone = ResNetBackbone("resnet18", output_stride=8)
    convs3 = [m for m in backbone.layer3.modules() if isinstance(m, torch.nn.Conv2d)]
    convs4 = [m for m in backbone.layer4.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.stride == (1, 1) for m in convs3 + convs4)
    assert [m.dilation[0] for m in convs3 if m.kernel_size == (3, 3)] == [1, 2, 2, 2]
    assert [m.dilation[0] for m in convs4 if m.kernel_size == (3, 3)] == [2, 4, 4, 4]


def test_resnet101_dis_has_paper_parameter_count_within_ten_percent():
    model = DISNet("resnet101", num_classes=21)
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - 45.5e6) / 45.5e6 < 0.10


def test_segment_is_a_single_linear_conv_of_u1_and_broadcast_v1(tiny_model):
    u1, v1 = torch.randn(2, 512, 5, 6), torch.randn(2, 512)
    u3 = tiny_model.segment(u1, v1)
    doubled = tiny_model.segment(2 * u1, 2 * v1)
    bias = tiny_model.labelmap_head.bias[None, :, None, None]
    torch.testing.assert_close(doubled - bias, 2 * (u3 - bias), rtol=1e-4, atol=1e-4)


def test_classify_uses_u1_only_through_its_spatial_average(tiny_model):
    u1, v1 = torch.randn(1, 512, 4, 4), torch.randn(1, 512)
    shuffled = u1.flatten(2)[:, :, torch.randperm(16)].view_as(u1)
    torch.testing.assert_close(tiny_model.classify(u1, v1), tiny_model.classify(shuffled, v1))


@pytest.mark.parametrize("recon_input", ["probs", "logits"])
def test_reconstruct_reads_softmax_or_logits_per_recon_input(recon_input):
    model = DISNet("resnet18", num_classes=4, recon_input=recon_input)
    u3 = torch.randn(1, 4, 3, 3)
    shifted = model.reconstruct(u3 + 5.0)
    same = torch.allclose(shifted, model.reconstruct(u3), atol=1e-5)
    assert same == (recon_input == "probs")


def test_concat_fusion_adds_a_linear_layer_and_keeps_shapes():
    model = DISNet("resnet18", num_classes=4, fusion="concat")
    assert model.tag_fusion.linear.in_features == 1024
    assert model.classify(torch.randn(2, 512, 3, 3), torch.randn(2, 512)).shape == (2, 4)


def test_pretrained_path_loads_a_resnet_state_dict(tmp_path):
    source = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pt"
    torch.save(source.state_dict(), path)
    model = DISNet("resnet18", num_classes=3, pretrained=path)
    torch.testing.assert_close(model.backbone.stem[0].weight, source.conv1.weight)


def test_missing_pretrained_path_error_names_the_path(tmp_path):
    path = tmp_path / "absent.pt"
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        DISNet("resnet18", pretrained=path)


def test_mismatched_pretrained_state_dict_error_lists_keys(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "extra.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"other\.pt.*missing keys \['bn1.weight'.*extra.weight"):
        DISNet("resnet18", pretrained=path)


def test_wrong_shape_pretrained_state_dict_error_names_the_path(tmp_path):
    path = tmp_path / "resnet50.pt"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    with pytest.raises(ValueError, match="resnet50.pt"):
        DISNet("resnet18", pretrained=path)


def test_unknown_backbone_and_output_stride_errors_name_the_config_key():
    with pytest.raises(ValueError, match="model.backbone.*resnet9"):
        DISNet("resnet9")
    with pytest.raises(ValueError, match="model.output_stride"):
        DISNet("resnet18", output_stride=32)


@pytest.mark.parametrize(
    ("kernel_size", "dilation", "stride", "padding"),
    [(3, 1, 1, 1), (1, 1, 1, 0), (5, 2, 1, 4), (3, 1, 2, 1), (3, 1, 1, "same")],
    ids=["3x3", "1x1", "5x5-dilated", "strided", "same"],
)
def test_segment_equals_the_conv_of_u1_concatenated_with_broadcast_v1(
    kernel_size, dilation, stride, padding
):
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5).double()
    model.labelmap_head = nn.Conv2d(
        1024, 5, kernel_size, stride=stride, padding=padding, dilation=dilation
    ).double()
    u1 = torch.randn(3, 512, 7, 9, dtype=torch.float64, requires_grad=True)
    v1 = torch.randn(3, 512, dtype=torch.float64, requires_grad=True)
    concatenated = torch.cat([u1, v1[:, :, None, None].expand(-1, -1, 7, 9)], dim=1)
    outputs = [model.segment(u1, v1), model.labelmap_head(concatenated)]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-12, atol=1e-12)
    weight = model.labelmap_head.weight
    gradients = [torch.autograd.grad(out.square().sum(), (u1, v1, weight)) for out in outputs]
    for ours, theirs in zip(*gradients, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
