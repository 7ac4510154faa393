"""Every config key has one owner, the schema: shipped configs pass it, a bad value or an
unknown key fails with one line naming the key and what was expected."""

import re

import pytest

from dis_seg.errors import ConfigError
from dis_seg.runs.schema import validate

PREDICT = ("ckpt_path=x.ckpt", "input_dir=in", "output_dir=out")
REQUIRED = {"train": (), "evaluate": ("ckpt_path=x.ckpt",), "diagnose": ("ckpt_path=x.ckpt",)}
REQUIRED["predict"] = PREDICT


@pytest.fixture
def composed(compose):
    """``composed(app, *overrides)``: the app's config with the keys it requires set."""
    return lambda app, *overrides: compose(app, *REQUIRED[app], *overrides)


@pytest.fixture
def refusal(composed):
    """``refusal(app, *overrides)``: the message of the schema's refusal of that config."""

    def message(app: str, *overrides: str) -> str:
        with pytest.raises(ConfigError) as error:
            validate(composed(app, *overrides), app)
        return str(error.value)

    return message


@pytest.mark.parametrize("experiment", ["synthetic", "voc", "voc_idw"])
@pytest.mark.parametrize("stage", [1, 2, 3])
def test_every_shipped_experiment_and_stage_passes_the_schema(experiment, stage, composed):
    validate(composed("train", f"experiment={experiment}", f"stage={stage}"), "train")


@pytest.mark.parametrize(
    ("app", "debug"), [("train", "tiny"), ("evaluate", "tiny"), ("train", "walkthrough")]
)
def test_the_debug_configs_pass_the_schema_of_the_apps_they_serve(app, debug, composed):
    validate(composed(app, f"debug={debug}"), app)


@pytest.mark.parametrize("app", ["evaluate", "predict", "diagnose"])
def test_the_other_shipped_apps_pass_the_schema(app, composed):
    validate(composed(app), app)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stage=4", "stage: unknown value 4; expected one of (1, 2, 3)"),
        ("stage=true", "stage: unknown value True; expected one of (1, 2, 3)"),
        ("ttr=-1", "ttr: expected an integer ≥ 0, got -1"),
        ("ttr=1.5", "ttr: expected an integer ≥ 0, got 1.5"),
        ("seed=abc", "seed: expected an integer ≥ 0, got 'abc'"),
        ("inference.step_size=0", "inference.step_size: expected a number > 0, got 0"),
        ("inference.step_size=nan", "inference.step_size: expected a number > 0, got nan"),
        ("inference.step_size=inf", "inference.step_size: expected a number > 0, got inf"),
        ("inference.tag_weight=-3", "inference.tag_weight: expected a number ≥ 0, got -3"),
        ("inference.method=graph", "inference.method: unknown value 'graph'; expected one of"),
        ("inference.cuda_graphs=1", "inference.cuda_graphs: expected true or false, got 1"),
        ("inference.schedule=[0,-1]", "inference.schedule: expected integers ≥ 0, got -1"),
        ("inference.control.max_change=0", "inference.control.max_change: expected a number > 0"),
        ("inference.control.stall_tolerance=-1", "inference.control.stall_tolerance: expected"),
        ("model.backbone=resnet9", "model.backbone: unknown value 'resnet9'; expected one of"),
        ("model.fusion=x", "model.fusion: unknown value 'x'; expected one of ('sum', 'concat')"),
        ("model.recon_scale=3", "model.recon_scale: unknown value 3; expected one of (1, 2, 4)"),
        ("recon_fit=labels", "recon_fit: unknown value 'labels'; expected one of"),
        (
            "stages.s1.module.bn_statistics=mixed",
            "stages.s1.module.bn_statistics: unknown value 'mixed'; expected one of",
        ),
        ("optimizer.name=adam", "optimizer.name: unknown value 'adam'; expected one of"),
        ("data.batch_size=0", "data.batch_size: expected an integer ≥ 1, got 0"),
        ("data.crop_size=-5", "data.crop_size: expected an integer ≥ 1, got -5"),
        ("data.labelled_per_batch=17", "data.labelled_per_batch: expected at most data.batch_size"),
        ("data.labelled_fraction=0", "data.labelled_fraction: expected a number in (0, 1]"),
        ("data.labelled_fraction=1.01", "data.labelled_fraction: expected a number in (0, 1]"),
        ("data.class_names=[a,b]", "data.class_names: 2 names for data.num_classes 21"),
        ("data.synthetic.size=8", "data.synthetic.size: expected an integer ≥ 16, got 8"),
        ("data.synthetic.num_test=0", "data.synthetic.num_test: expected an integer ≥ 1, got 0"),
        (
            "data.synthetic.tag_noise=[0.5]",
            "data.synthetic.tag_noise: expected a list of 2 numbers in [0, 1], got [0.5]",
        ),
        (
            "data.synthetic.classes=[cat,unicorn]",
            "data.synthetic.classes: expected VOC object classes or null, got ['unicorn']",
        ),
        ("+data.synthetic.colour=3", "data.synthetic.colour: unknown key"),
        (
            "stages.s3.module.tag_margin=1.5",
            "stages.s3.module.tag_margin: expected a number in [0,",
        ),
        (
            "stages.s3.module.tag_margin=-0.1",
            "stages.s3.module.tag_margin: expected a number in [0,",
        ),
        ("checkpoints.every_n_steps=-5", "checkpoints.every_n_steps: expected an integer ≥ 0"),
        ("evaluation.mode=tiles", "evaluation.mode: unknown value 'tiles'; expected one of"),
        ("evaluation.scales=[]", "evaluation.scales: expected a non-empty list of numbers > 0"),
        ("+data.foo=1", "data.foo: unknown key; did you mean"),
        ("data.tag_noise.drop_small=1.5", "data.tag_noise.drop_small: expected a number in [0, 1]"),
        (
            "data.tag_noise.add=often",
            "data.tag_noise.add: expected a number in [0, 1], got 'often'",
        ),
        ("+data.tag_noise.drop=0.5", "data.tag_noise.drop: unknown key; did you mean"),
        ("data.partition=100", "data.partition: expected null or one of 92, 183, 366"),
        ("data.partition=1_8 data.train_split=train", "data.partition: 1_8 is drawn from VOC"),
        ("data.partition=92 data.labelled_fraction=0.5", "data.partition: 92 and data.labelled"),
    ],
)
def test_a_bad_training_value_fails_in_one_line_naming_the_key(override, message, refusal):
    assert refusal("train", *override.split()).startswith(message)


@pytest.mark.parametrize(
    ("app", "override", "message"),
    [
        ("evaluate", "tts=-1", "tts: expected an integer ≥ 0, got -1"),
        ("evaluate", "ckpt_path=???", "ckpt_path: missing; set it on the command line"),
        ("evaluate", "inference.step_size=0", "inference.step_size: expected a number > 0"),
        ("predict", "overlay_alpha=5", "overlay_alpha: expected a number in [0, 1], got 5"),
        ("predict", "overwrite=1", "overwrite: expected true or false, got 1"),
        ("predict", "class_names=person", "class_names: expected a list of names, got 'person'"),
        ("predict", "device=gpu", "device: unknown device; expected auto, cpu, cuda or cuda:N"),
        ("predict", "device=cuda:7", "device: "),
        ("predict", "input_dir=???", "input_dir: missing; set it on the command line"),
        ("predict", "+ttss=3", "ttss: unknown key; did you mean tts?"),
        ("diagnose", "split=train", "split: unknown value 'train'; expected one of"),
        ("diagnose", "device=cuda:1", "device: "),
        ("diagnose", "boundary_radius=0", "boundary_radius: expected an integer ≥ 1, got 0"),
        ("diagnose", "tag_threshold=1.5", "tag_threshold: expected a number in (0, 1), got 1.5"),
        ("diagnose", "suppress_absent=2", "suppress_absent: expected true or false, got 2"),
    ],
)
def test_a_bad_value_of_the_other_apps_fails_in_one_line_naming_the_key(
    app, override, message, refusal
):
    assert refusal(app, override).startswith(message)


def test_predict_and_diagnose_judge_a_device_by_one_rule(refusal):
    messages = {app: refusal(app, "device=cuda:1") for app in ("predict", "diagnose")}
    assert messages["predict"] == messages["diagnose"]


def test_an_interpolation_that_cannot_be_resolved_is_named(refusal):
    message = refusal("train", "data.crop_size=${nowhere}")
    assert re.match(r"data\.crop_size: cannot be resolved \(", message)
