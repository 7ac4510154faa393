"""The W&B workspace of a DIS run as code (``wandb-workspaces``, the ``dashboard`` extra).

The workspace shows the runs of one W&B group (a ``run_name``: every stage and every job of its
sweeps), grouped by stage and ``ttr``, in five sections: mIoU against t, the ``ttr × tts``
table, stage 3's pseudo labels and tag cleaning, the per-class IoU and the example masks. The
metric keys are those the runs log: :class:`~dis_seg.callbacks.IterativeInferenceCallback`
(``test/<set>/...``), :class:`~dis_seg.stages.Stage3Module` (``pseudo/...``, ``tags/...``) and
:class:`~dis_seg.callbacks.WandbImageCallback` (``val/examples``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import wandb_workspaces.reports.v2 as wr
import wandb_workspaces.workspaces as ws
from omegaconf import DictConfig
from wandb_workspaces import expr

from dis_seg.callbacks.evaluation import step_schedule
from dis_seg.data.tags import VOC_CLASSES

TEST_SETS = ("voc", "idw")
"""The paper's two test sets, as the data module names its test loaders (``test/voc``...)."""
GROUPING = ("stage", "ttr")
"""The config keys that group the runs: one line or bar per stage and per ``ttr``."""
EPOCH = "epoch"
"""The x axis of the stage-3 statistics, logged once an epoch."""
PSEUDO_LABEL_PANELS = {
    "pseudo-label mIoU before (t = 0) and after the ttr steps": ["pseudo/mIoU_t0", "pseudo/mIoU"],
    "pixels changed by the ttr steps, foreground fraction": [
        "pseudo/changed_by_ttr",
        "pseudo/foreground_fraction",
    ],
    "cleaned tags per image": ["pseudo/cleaned_tags_per_image"],
    "confident pseudo-label pixels": ["pseudo/confident_fraction"],
    "pseudo labels stopped by a non-finite energy": ["pseudo/non_finite_samples"],
    **{
        f"tag {score}: noisy input against cleaned": [
            f"tags/noisy_{score}",
            f"tags/cleaned_{score}",
        ]
        for score in ("F1", "precision", "recall")
    },
}
"""Stage 3's line plots against the epoch: title → metric keys."""
EXAMPLES = "val/examples"
"""Images with ground-truth and predicted masks, and their reconstructions."""


@dataclass(frozen=True)
class RunMetrics:
    """What the runs of one train config log, as far as the dashboard shows it."""

    steps: tuple[int, ...]
    """The steps t of ``test/<set>/mIoU_t{t}``."""
    class_names: tuple[str, ...]
    """The classes of ``test/<set>/IoU/<class>``."""
    test_sets: tuple[str, ...] = TEST_SETS

    @classmethod
    def of_config(cls, cfg: DictConfig) -> RunMetrics:
        """From a composed ``conf/train.yaml``: the steps of ``inference.schedule`` up to
        ``tts`` and the class names of ``data`` (VOC's when ``data.class_names`` is null)."""
        return cls(
            steps=tuple(step_schedule(cfg.tts, cfg.inference.schedule)),
            class_names=tuple(cfg.data.class_names or VOC_CLASSES),
        )

    @property
    def miou_names(self) -> list[str]:
        """``mIoU_t{t}`` for every step t."""
        return [f"mIoU_t{t}" for t in self.steps]

    @property
    def class_iou_names(self) -> list[str]:
        """``IoU/<class>`` for every class."""
        return [f"IoU/{name}" for name in self.class_names]


def metric_key(test_set: str, name: str) -> str:
    """The key of a test metric: ``test/<set>/<name>``."""
    return f"test/{test_set}/{name}"


def curve_table_key(test_set: str) -> str:
    """The W&B table behind the mIoU-against-t chart that the evaluation logs."""
    return metric_key(test_set, "mIoU_curve_table")


def build_workspace(entity: str, project: str, group: str, metrics: RunMetrics) -> ws.Workspace:
    """The workspace of the runs of W&B group ``group`` in ``entity/project``."""
    test_sets = metrics.test_sets
    sections = [
        ws.Section(name="mIoU against t", panels=_curve_panels(test_sets), is_open=True),
        ws.Section(
            name="ttr × tts",
            panels=_bars_per_test_set(test_sets, "mIoU at each t", metrics.miou_names),
            is_open=True,
        ),
        ws.Section(name="stage 3: pseudo labels and tag cleaning", panels=_stage3_panels()),
        ws.Section(
            name="per-class IoU",
            panels=_bars_per_test_set(test_sets, "IoU at t = tts", metrics.class_iou_names),
        ),
        ws.Section(name="example masks", panels=[wr.MediaBrowser(media_keys=[EXAMPLES])]),
    ]
    table_columns = [  # with the grouping by stage and ttr: the ttr × tts table
        f"summary:{metric_key(test_set, name)}"
        for test_set in test_sets
        for name in metrics.miou_names
    ]
    return ws.Workspace(
        entity=entity,
        project=project,
        name=f"DIS {group}",
        sections=sections,
        runset_settings=ws.RunsetSettings(
            filters=expr.And(expr.Metric("Group") == group),
            groupby=[expr.Config(key) for key in GROUPING],
            pinned_columns=table_columns,
        ),
    )


def specification(workspace: ws.Workspace) -> dict[str, Any]:
    """The workspace as the JSON view that saving it uploads."""
    return workspace._to_model().model_dump(by_alias=True, exclude_none=True, mode="json")


def _curve_panels(test_sets: tuple[str, ...]) -> list[wr.CustomChart]:
    """Per test set, one line per run: the mIoU at each step t of its test, from its table."""
    return [
        wr.CustomChart(
            query={"summaryTable": {"tableKey": curve_table_key(test_set)}},
            chart_name="wandb/line/v0",
            chart_fields={"x": "t", "y": "mIoU", "stroke": "name"},
            chart_strings={"title": f"test/{test_set}: mIoU against t"},
        )
        for test_set in test_sets
    ]


def _bars_per_test_set(
    test_sets: tuple[str, ...], title: str, names: list[str]
) -> list[wr.BarPlot]:
    """Per test set, the bars of ``test/<set>/<name>`` for each name and each group (stage,
    ttr)."""
    return [
        wr.BarPlot(
            title=f"test/{test_set}: {title}",
            metrics=[metric_key(test_set, name) for name in names],
            orientation="v",
        )
        for test_set in test_sets
    ]


def _stage3_panels() -> list[wr.LinePlot]:
    return [
        wr.LinePlot(title=title, x=EPOCH, y=keys) for title, keys in PSEUDO_LABEL_PANELS.items()
    ]


def has_credentials() -> bool:
    """Whether a W&B API key is configured (environment or ``wandb login``)."""
    import wandb

    try:
        wandb.Api()
    except wandb.errors.UsageError:
        return False
    return True
