"""Checkpoint files: a dis-seg checkpoint in either of torch's formats loads; a missing, empty,
truncated, corrupt or foreign file is a CheckpointError that names the key and the file."""

import re

import pytest
import torch

from dis_seg.errors import CheckpointError, ConfigError
from dis_seg.runs.checkpoints import (
    inference_step_size,
    inference_tag_weight,
    load_module,
    read_checkpoint,
)
from dis_seg.stages import DISModule

NETWORK = {"backbone": "resnet18", "num_classes": 3, "output_stride": 8}


def save_dis_checkpoint(path, legacy: bool) -> DISModule:
    """A checkpoint as dis-seg-train writes one (the parts that loading reads), in torch's zip
    format or, with ``legacy``, in the format before it."""
    torch.manual_seed(0)
    module = DISModule(model=NETWORK)
    checkpoint = {"state_dict": module.state_dict(), "hyper_parameters": {"model": NETWORK}}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=not legacy)
    return module


@pytest.mark.parametrize("legacy", [False, True], ids=["zip format", "legacy format"])
def test_dis_checkpoint_loads_in_either_format(tmp_path, legacy):
    saved = save_dis_checkpoint(tmp_path / "model.ckpt", legacy)
    module, hparams = load_module(tmp_path / "model.ckpt", num_classes=3)
    assert hparams["model"] == NETWORK
    for key, value in saved.model.state_dict().items():
        torch.testing.assert_close(module.model.state_dict()[key], value)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip format", "legacy format"])
def test_truncated_checkpoint_is_named_truncated(tmp_path, legacy):
    path = tmp_path / "cut.ckpt"
    save_dis_checkpoint(path, legacy)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=rf"^ckpt_path: {re.escape(str(path))} is truncated"):
        read_checkpoint(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (bytes(range(7, 256)) * 8, "is not a dis-seg checkpoint: not a PyTorch file"),
        (None, "is not a dis-seg checkpoint: a PyTorch file without"),
    ],
    ids=["empty", "random bytes", "another PyTorch file"],
)
def test_foreign_file_is_not_a_dis_seg_checkpoint(tmp_path, content, message):
    path = tmp_path / "other.ckpt"
    if content is None:
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"^ckpt_path: {re.escape(str(path))} {message}"):
        load_module(path)


def test_missing_checkpoint_and_folder_name_the_key(tmp_path):
    with pytest.raises(CheckpointError, match=r"^stages.s2.init_from: .*none.ckpt does not exist"):
        read_checkpoint(tmp_path / "none.ckpt", "stages.s2.init_from")
    with pytest.raises(CheckpointError, match=r"^ckpt_path: .* is a folder; expected a checkpoint"):
        read_checkpoint(tmp_path)


def test_zero_steps_need_no_step_size_and_configured_steps_win():
    assert inference_step_size(None, {}, "stage2.ckpt", steps=0) > 0
    assert inference_step_size(0.5, {"step_size": 2.0}, "stage3.ckpt", steps=5) == 0.5
    with pytest.raises(ValueError, match="inference.step_size: stage2.ckpt does not record"):
        inference_step_size(None, {}, "stage2.ckpt", steps=5)


def test_the_tag_weight_is_the_configured_or_the_checkpoints_and_named_when_missing():
    assert inference_tag_weight(None, {"inference_tag_weight": 3.0}, "stage3.ckpt", ttr=5) == 3.0
    assert inference_tag_weight(1.0, {"inference_tag_weight": 3.0}, "stage3.ckpt", ttr=5) == 1.0
    assert inference_tag_weight(None, {}, "stage2.ckpt", ttr=0) > 0
    with pytest.raises(ConfigError, match=r"inference.tag_weight: stage2.ckpt does not record"):
        inference_tag_weight(None, {}, "stage2.ckpt", ttr=5)
