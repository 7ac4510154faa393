"""Checkpoints and state dicts are unpickled with ``weights_only=True``."""

import pickle

import pytest
import torch
import torchvision

from dis_seg.models.backbone import ResNetBackbone
from dis_seg.runs.checkpoints import AtomicCheckpointIO, read_checkpoint


class Payload:
    """Neither a tensor nor a plain value: refused by ``weights_only=True``."""


@pytest.fixture
def evil_checkpoint(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "callbacks": Payload()}, path)
    return path


def test_lightning_resume_refuses_pickled_objects(evil_checkpoint):
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        AtomicCheckpointIO().load_checkpoint(evil_checkpoint)


def test_stage_and_evaluation_checkpoints_refuse_pickled_objects(evil_checkpoint):
    with pytest.raises(ValueError, match=r"evil\.ckpt cannot be loaded with weights_only=True"):
        read_checkpoint(evil_checkpoint)


def test_imagenet_weights_are_loaded_with_weights_only(monkeypatch):
    calls = []

    def download(url, **kwargs):  # noqa: ARG001 (the signature of what it replaces)
        calls.append(kwargs)
        return torchvision.models.resnet18().state_dict()

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", download)
    ResNetBackbone("resnet18", pretrained="imagenet")
    assert calls == [{"check_hash": True, "weights_only": True}]
