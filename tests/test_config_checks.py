"""What a run meets beyond its config's values fails at start with a message naming the key:
data folders, checkpoints, the trainer; and the evaluation a config describes."""

import re
from dataclasses import replace

import pytest
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from dis_seg.callbacks import evaluation as evaluation_callback_module
from dis_seg.cli import train
from dis_seg.data.random_batch import random_training_batch
from dis_seg.errors import ConfigError
from dis_seg.inference import protocols
from dis_seg.runs.building import evaluation_callback
from dis_seg.runs.checkpoints import check_num_classes, read_checkpoint
from dis_seg.runs.checks import (
    check_trainer,
)
from dis_seg.runs.evaluation import evaluation_data
from dis_seg.runs.preflight import check_data_folders
from dis_seg.stages import DISModule
from tests.helpers import quiet_trainer, refused_run, tiny_overrides


def test_missing_data_folder_is_named_with_the_keys_and_variables_that_set_it(
    tmp_path, monkeypatch, compose
):
    monkeypatch.delenv("VOC_ROOT", raising=False)
    cfg = compose("evaluate", "ckpt_path=x.ckpt", "data=voc", f"paths.data_dir={tmp_path}")
    message = (
        f"data.voc_root: {tmp_path}/VOCdevkit/VOC2012 does not exist (set from paths.voc_root "
        "or paths.data_dir or the environment variable VOC_ROOT); expected the folder of a data "
        "set"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_data_folders(cfg, ["data.voc_root"])


def test_train_refuses_a_bad_value_before_generating_data(tmp_path, monkeypatch, capsys):
    assert refused_run(train, [*tiny_overrides(tmp_path), "ttr=-3"], monkeypatch) == 2
    assert "ttr: expected an integer ≥ 0, got -3" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_checkpoint_of_other_num_classes_is_refused_naming_the_key(tmp_path):
    path = tmp_path / "five.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"model": {"num_classes": 5}}}, path)
    with pytest.raises(ConfigError, match="model.num_classes: .* trained with 5 classes but"):
        check_num_classes(read_checkpoint(path), path, 21)


def test_unreadable_checkpoint_error_names_the_file(tmp_path):
    path = tmp_path / "cut.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ConfigError, match=r"ckpt_path: .*cut\.ckpt is truncated"):
        read_checkpoint(path)


def test_sync_batchnorm_on_cpus_is_refused_naming_the_key():
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False)
    cfg = OmegaConf.create({"trainer": {"sync_batchnorm": True}})
    with pytest.raises(ConfigError, match="trainer.sync_batchnorm: SyncBatchNorm runs on GPUs"):
        check_trainer(cfg, trainer)


def test_spawned_ddp_is_refused():
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False)
    with pytest.raises(ConfigError, match="trainer.strategy: spawned or forked"):
        check_trainer(OmegaConf.create({"trainer": {}}), trainer)


@pytest.fixture
def multirun(compose):
    """Hydra's config as a job of a local multirun sees it."""
    cfg = compose("train", hydra=True)
    cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(cfg)
    yield
    HydraConfig.instance().cfg = None


@pytest.mark.usefixtures("multirun")
def test_ddp_that_relaunches_the_command_line_is_refused_in_a_local_multirun():
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)
    with pytest.raises(ConfigError, match="trainer.devices: DDP .* inside a local multirun"):
        check_trainer(OmegaConf.create({"trainer": {}}), trainer)


def test_the_data_pads_to_the_output_stride_of_the_network_it_feeds(compose):
    assert compose("train", "model.output_stride=16").data.output_stride == 16
    evaluation = compose("evaluate", "ckpt_path=x.ckpt")
    network = DISModule(model={"backbone": "resnet18", "num_classes": 21, "output_stride": 16})
    assert evaluation_data(evaluation, network).hparams.output_stride == 16


def test_evaluation_never_generates_data(compose):
    evaluation = compose("evaluate", "ckpt_path=x.ckpt")
    assert evaluation.data.generate_if_missing
    network = DISModule(model={"backbone": "resnet18", "num_classes": 21})
    assert not evaluation_data(evaluation, network).hparams.generate_if_missing


def validated_energies(callback) -> list[float]:
    """The mean energy after each step of ``callback.steps`` as the callback validates a random
    ResNet-18 network (C = 5) on 4 images."""
    torch.manual_seed(0)
    module = DISModule(model={"backbone": "resnet18", "num_classes": 5}, class_names=list("abcde"))
    batch = random_training_batch(4, 32, 5, generator=torch.Generator().manual_seed(0))
    quiet_trainer(callbacks=[callback]).validate(
        module, DataLoader([batch], batch_size=None), verbose=False
    )
    return [callback.results["val"][f"recon_error_t{t}"] for t in callback.steps]


@pytest.mark.parametrize("name", ["train", "evaluate"])
def test_the_evaluation_takes_its_steps_as_the_inference_group_says(name, compose, monkeypatch):
    steps = ["inference.schedule=[0,1]", "inference.step_size=20"]
    free = validated_energies(evaluation_callback(compose(name, *steps), 3, 20.0))
    assert free[0] > free[1] > free[2], "free steps lower the energy after every step"
    taken = []

    def spy(*args, options, **kwargs):
        taken.append(options)
        eager = replace(options, compile_steps=False)  # compiling takes minutes on a CPU
        return protocols.predict_views(*args, options=eager, **kwargs)

    monkeypatch.setattr(evaluation_callback_module, "predict_views", spy)
    # a tolerance of 1: a step that does not remove all the energy is the sample's last
    control = ["inference.control.stall_tolerance=1.0", "inference.compile_steps=true"]
    cfg = compose(name, *steps, *control)
    controlled = validated_energies(evaluation_callback(cfg, 3, 20.0))
    assert controlled[:2] == free[:2]
    assert controlled[2] == controlled[1]
    assert taken
    assert all(options.compile_steps for options in taken)
    assert {options.method for options in taken} == {cfg.inference.method}
