"""The W&B workspace shows what the runs log: its keys are checked against the CSV logs of the
pipeline's three stages and against what the stage-3 model sends to W&B when validated and
tested with the entry points' callbacks."""

from __future__ import annotations

import csv
import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
import wandb
import wandb_workspaces.reports.v2 as wr
import yaml
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger

from dis_seg.cli import dashboard as dashboard_cli
from dis_seg.reports import dashboard
from dis_seg.reports.dashboard import RunMetrics, build_workspace
from dis_seg.runs.building import evaluation_callback
from dis_seg.runs.checkpoints import load_module
from tests.helpers import quiet_trainer


class RecordingRun:
    """Stands in for a W&B run: keeps the last value logged under each key."""

    name = id = "recording"

    def __init__(self) -> None:
        self.logged: dict[str, Any] = {}
        self.config = SimpleNamespace(update=lambda *args, **options: None)

    def log(self, data: dict[str, Any], **options: Any) -> None:
        self.logged.update(data)


@pytest.fixture(scope="module")
def stage3_config(pipeline) -> DictConfig:
    return OmegaConf.load(pipeline / "stage3" / ".hydra" / "config.yaml")


@pytest.fixture(scope="module")
def logged_config(pipeline) -> dict[str, Any]:
    """The config the stage-3 run gave its loggers (W&B's run config)."""
    return yaml.safe_load(next(pipeline.glob("stage3/csv/*/hparams.yaml")).read_text())


@pytest.fixture(scope="module")
def csv_logged(pipeline) -> set[str]:
    """The keys in the CSV logs of the pipeline's three stages."""
    keys = set()
    for path in pipeline.glob("stage*/csv/*/metrics.csv"):
        with path.open() as file:
            keys |= set(next(csv.reader(file)))
    return keys


@pytest.fixture(scope="module")
def wandb_logged(pipeline, stage3_config) -> dict[str, Any]:
    """What the stage-3 model sends to W&B, validated and tested with the evaluation and
    the W&B image callback of its config: key → value."""
    module, _ = load_module(pipeline / "stage3" / "checkpoints" / "last.ckpt")
    cfg = stage3_config
    callbacks = [
        evaluation_callback(cfg, cfg.tts, cfg.inference.step_size),
        instantiate(cfg.callbacks.wandb_images),
    ]
    run = RecordingRun()
    trainer = quiet_trainer(logger=WandbLogger(experiment=run), callbacks=callbacks)
    datamodule = instantiate(cfg.data)
    trainer.validate(module, datamodule=datamodule)
    trainer.test(module, datamodule=datamodule)
    return run.logged


@pytest.fixture(scope="module")
def workspace(stage3_config):
    return build_workspace("entity", "project", "group", RunMetrics.of_config(stage3_config))


def panels(workspace, kind: type) -> list:
    return [
        panel
        for section in workspace.sections
        for panel in section.panels
        if isinstance(panel, kind)
    ]


def plotted_keys(workspace) -> set[str]:
    """Every metric key of the line plots, bar plots and the runs table."""
    keys = {key for plot in panels(workspace, wr.LinePlot) for key in (plot.x, *plot.y)}
    keys |= {key for plot in panels(workspace, wr.BarPlot) for key in plot.metrics}
    return keys | {
        column.removeprefix("summary:")
        for column in workspace.runset_settings.pinned_columns
        if column.startswith("summary:")
    }


def test_every_plotted_metric_is_a_key_the_runs_log(workspace, csv_logged, wandb_logged):
    assert plotted_keys(workspace) - csv_logged - set(wandb_logged) == set()


def test_stage3_panels_show_every_pseudo_label_and_tag_statistic_stage3_logs(workspace, csv_logged):
    stage3_statistics = {key for key in csv_logged if key.startswith(("pseudo/", "tags/"))}
    assert stage3_statistics
    assert stage3_statistics <= plotted_keys(workspace)


def test_curve_and_class_panels_cover_every_logged_step_class_and_test_set(workspace, csv_logged):
    evaluated = {key for key in csv_logged if re.fullmatch(r"test/\w+/(mIoU_t\d+|IoU/\w+)", key)}
    assert evaluated
    assert evaluated <= plotted_keys(workspace)


def test_mIoU_against_t_charts_read_the_tables_the_evaluation_logs(workspace, wandb_logged):
    logged = {}
    for key, chart in wandb_logged.items():
        if isinstance(chart, wandb.plot.CustomChart) and key.startswith("test/"):
            chart.set_key(key)  # as wandb.log does
            logged[chart.spec.table_key] = chart.spec
    charts = panels(workspace, wr.CustomChart)
    assert {chart.query["summaryTable"]["tableKey"] for chart in charts} == set(logged) != set()
    for chart in charts:
        spec = logged[chart.query["summaryTable"]["tableKey"]]
        fields = chart.chart_fields
        assert (chart.chart_name, fields["x"], fields["y"]) == (
            spec.spec_name,
            spec.fields["x"],
            spec.fields["y"],
        )


def test_example_masks_panel_shows_the_images_the_image_callback_logs(workspace, wandb_logged):
    (browser,) = panels(workspace, wr.MediaBrowser)
    for key in browser.media_keys:
        images = wandb_logged[key]
        assert images
        assert all(isinstance(image, wandb.Image) for image in images)


def test_runs_are_grouped_by_config_keys_the_runs_log(workspace, logged_config):
    grouping = [key.name for key in workspace.runset_settings.groupby]
    assert grouping
    assert all(key in logged_config for key in grouping)


def test_without_credentials_the_command_writes_the_workspace_of_the_run_name_group(
    logged_config, tmp_path, monkeypatch
):
    monkeypatch.setattr(dashboard, "has_credentials", lambda: False)
    output = tmp_path / "workspace.json"
    run_name = logged_config["run_name"]
    dashboard_cli.main(["--entity", "e", "--output", str(output), f"run_name={run_name}"])
    (run_set,) = json.loads(output.read_text())["spec"]["section"]["runSets"]
    (group_filter,) = run_set["filters"]["filters"]
    assert (group_filter["key"]["name"], group_filter["value"]) == ("group", run_name)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--entity", ""], "--entity: empty; expected a W&B user or team"),
        (["--entity", "e", "--project", " "], "--project: empty; expected a W&B project"),
        (
            ["--entity", "e", "--output", "/missing/dir/x.json"],
            "--output: /missing/dir is not a folder; expected a file in an existing folder",
        ),
        (["--entity", "e", "--output", "/"], "--output: / is a folder; expected a file"),
    ],
    ids=["empty entity", "empty project", "output in a missing folder", "output a folder"],
)
def test_a_bad_option_is_a_one_line_error_naming_it(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        dashboard_cli.main([*arguments, "--dry-run"])
    assert exit_info.value.code == 2
    assert capsys.readouterr() == ("", f"error: {message}\n")
