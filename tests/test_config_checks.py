"""Bad config values fail at start with a message that names the key."""

import re

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from dis_seg import CONFIG_DIR
from dis_seg.errors import ConfigError
from dis_seg.inference import StepControl, StepOptions
from dis_seg.runs.building import evaluation_callback
from dis_seg.runs.checkpoints import check_num_classes, read_checkpoint
from dis_seg.runs.checks import (
    check_diagnose_config,
    check_evaluate_config,
    check_predict_config,
    check_train_config,
    check_trainer,
)
from dis_seg.runs.evaluation import evaluation_data
from dis_seg.runs.preflight import check_added_keys, check_data_folders
from dis_seg.stages import DISModule
from dis_seg.stages.optim import OptimizerConfig
from tests.training_runs import run_entry_point, tiny_overrides


def config(name, *overrides, hydra=False):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose(name, list(overrides), return_hydra_config=hydra)


@pytest.mark.parametrize("experiment", ["synthetic", "voc", "voc_idw"])
@pytest.mark.parametrize("stage", [1, 2, 3])
def test_shipped_configs_pass_the_checks(experiment, stage):
    check_train_config(config("train", f"experiment={experiment}", f"stage={stage}"))


@pytest.mark.parametrize(
    "override, message",
    [
        ("stage=4", "stage: expected 1, 2 or 3, got 4"),
        ("stage=true", "stage: expected 1, 2 or 3, got True"),
        ("ttr=-1", "ttr: expected an integer ≥ 0, got -1"),
        ("tts=-2", "tts: expected an integer ≥ 0, got -2"),
        ("ttr=1.5", "ttr: expected an integer ≥ 0, got 1.5"),
        ("inference.step_size=0", "inference.step_size: expected a number > 0, got 0"),
        ("inference.step_size=-0.5", "inference.step_size: expected a number > 0, got -0.5"),
        ("inference.step_size=nan", "inference.step_size: expected a number > 0, got nan"),
        ("model.backbone=resnet9", "model.backbone: unknown value 'resnet9'; expected one of"),
        ("data.labelled_fraction=0", "data.labelled_fraction: expected a number in (0, 1]"),
        ("data.labelled_fraction=1.01", "data.labelled_fraction: expected a number in (0, 1]"),
        ("checkpoints.every_n_steps=-5", "checkpoints.every_n_steps: expected an integer ≥ 0"),
        ("inference.method=graph", "inference.method: unknown value 'graph'; expected one of"),
        ("inference.cuda_graphs=1", "inference.cuda_graphs: expected true or false, got 1"),
        ("inference.compile_steps=1", "inference.compile_steps: expected true or false, got 1"),
        ("recon_fit=labels", "recon_fit: unknown value 'labels'; expected one of"),
        ("model.recon_scale=3", "model.recon_scale: unknown value 3; expected one of (1, 2, 4)"),
        ("inference.control.max_change=0", "inference.control.max_change: expected a number > 0"),
    ],
)
def test_bad_train_value_fails_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_train_config(config("train", override))


@pytest.mark.parametrize(
    "override, message",
    [
        ("tts=-1", "tts: expected an integer ≥ 0, got -1"),
        ("inference.step_size=0", "inference.step_size: expected a number > 0, got 0"),
        ("inference.schedule=[0,-1]", "inference.schedule: expected integers ≥ 0, got -1"),
        ("inference.method=fastest", "inference.method: unknown value 'fastest'"),
        ("inference.cuda_graphs=yes", "inference.cuda_graphs: expected true or false, got 'yes'"),
    ],
)
def test_bad_evaluate_value_fails_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_evaluate_config(config("evaluate", "ckpt_path=x.ckpt", override))


@pytest.mark.parametrize(
    "override, message",
    [
        ("split=train", "split: unknown value 'train'; expected one of"),
        ("ttr=-3", "ttr: expected an integer ≥ 0, got -3"),
        ("device=gpu", "device: unknown value 'gpu'"),
        ("boundary_radius=0", "boundary_radius: expected an integer ≥ 1, got 0"),
        ("tag_threshold=1.5", "tag_threshold: expected a number in (0, 1), got 1.5"),
        ("tag_margin=-0.1", "tag_margin: expected a number in [0, 1), got -0.1"),
        ("inference.control.monotone=1", "inference.control.monotone: expected true or false"),
        ("inference.control.max_change=0", "inference.control.max_change: expected a number > 0"),
        (
            "inference.control.stall_tolerance=-1",
            "inference.control.stall_tolerance: expected a number > 0",
        ),
    ],
)
def test_bad_diagnose_value_fails_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_diagnose_config(config("diagnose", "ckpt_path=x.ckpt", override))


def test_shipped_diagnose_config_passes_the_checks():
    check_diagnose_config(config("diagnose", "ckpt_path=x.ckpt"))


PREDICT = ("ckpt_path=x.ckpt", "input_dir=in", "output_dir=out")


@pytest.mark.parametrize(
    "override, message",
    [
        ("tts=-1", "tts: expected an integer ≥ 0, got -1"),
        ("inference.step_size=0", "inference.step_size: expected a number > 0, got 0"),
        ("inference.step_size=-2", "inference.step_size: expected a number > 0, got -2"),
        ("overlay_alpha=5", "overlay_alpha: expected a number in [0, 1], got 5"),
        ("overlays=maybe", "overlays: expected true or false, got 'maybe'"),
        ("overwrite=1", "overwrite: expected true or false, got 1"),
        ("class_names=person", "class_names: expected null or a list of names, got 'person'"),
        ("device=gpu", "device: unknown device 'gpu'; expected auto, cpu, cuda or cuda:N"),
        ("device=cuda:7", "device: cuda:7 but this machine has"),
        ("input_dir=???", "input_dir: missing; set it on the command line (input_dir=...)"),
    ],
)
def test_bad_predict_value_fails_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_predict_config(config("predict", *PREDICT, override))


def test_shipped_predict_config_passes_the_checks():
    check_predict_config(config("predict", *PREDICT))


def test_key_added_by_an_override_is_refused_naming_the_nearest_key():
    cfg = config("predict", *PREDICT, "+ttss=3", hydra=True)
    message = r"^ttss: unknown key, added by \+ttss=3; did you mean tts\?"
    with pytest.raises(ConfigError, match=message):
        check_added_keys(cfg)


@pytest.mark.parametrize(
    "override",
    ["+logger.csv.flush_logs_every_n_steps=1", "+trainer.max_time=00:00:10:00"],
)
def test_arguments_added_to_an_instantiated_node_are_left_to_its_constructor(override):
    check_added_keys(config("train", override, hydra=True))


def test_missing_data_folder_is_named_with_the_keys_and_variables_that_set_it(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("VOC_ROOT", raising=False)
    cfg = config("evaluate", "ckpt_path=x.ckpt", "data=voc", f"paths.data_dir={tmp_path}")
    message = (
        f"data.voc_root: {tmp_path}/VOCdevkit/VOC2012 does not exist (set from paths.voc_root "
        "or the environment variable VOC_ROOT); expected the folder of a data set"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_data_folders(cfg, ["data.voc_root"])


def test_train_refuses_a_bad_value_before_generating_data(tmp_path):
    result = run_entry_point("dis_seg.cli.train", *tiny_overrides(tmp_path), "ttr=-3", check=False)
    assert result.returncode != 0
    assert "ttr: expected an integer ≥ 0, got -3" in result.stderr
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
def multirun():
    """Hydra's config as a job of a local multirun sees it."""
    cfg = config("train", hydra=True)
    cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(cfg)
    yield
    HydraConfig.instance().cfg = None


def test_ddp_that_relaunches_the_command_line_is_refused_in_a_local_multirun(multirun):
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)
    with pytest.raises(ConfigError, match="trainer.devices: DDP .* inside a local multirun"):
        check_trainer(OmegaConf.create({"trainer": {}}), trainer)


def test_an_unknown_optimizer_fails_naming_the_key_and_the_known_ones():
    with pytest.raises(
        ValueError,
        match=re.escape("optimizer.name: unknown value 'adam'; expected one of ('sgd', 'adamw')"),
    ):
        OptimizerConfig(name="adam")


def test_the_data_pads_to_the_output_stride_of_the_network_it_feeds():
    assert config("train", "model.output_stride=16").data.output_stride == 16
    evaluation = config("evaluate", "ckpt_path=x.ckpt")
    network = DISModule(model={"backbone": "resnet18", "num_classes": 21, "output_stride": 16})
    assert evaluation_data(evaluation, network).hparams.output_stride == 16


def test_evaluation_never_generates_data():
    evaluation = config("evaluate", "ckpt_path=x.ckpt")
    assert evaluation.data.generate_if_missing
    network = DISModule(model={"backbone": "resnet18", "num_classes": 21})
    assert not evaluation_data(evaluation, network).hparams.generate_if_missing


@pytest.mark.parametrize("name", ["train", "evaluate"])
def test_the_evaluation_takes_its_steps_as_the_inference_group_says(name):
    cfg = config(name, "inference.control.monotone=true", "inference.compile_steps=true")
    callback = evaluation_callback(cfg, 10, 2.0)
    assert callback.options == StepOptions(
        method=cfg.inference.method, control=StepControl(monotone=True), compile_steps=True
    )
