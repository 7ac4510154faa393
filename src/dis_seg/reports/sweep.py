"""The ``ttr × tts`` mIoU tables of a multirun folder (``dis-seg-report DIR``).

Collects every ``metrics.json`` under DIR (recursively), one table per test split (``voc``,
``idw``). Rows are ``ttr``, columns the number of test-time steps t (the paper's layout). A
stage-3 training job tested with ``tts = T``
contributes every ``mIoU_t{t}`` it holds for t ≤ T, so one job fills a whole row. An evaluate
job contributes under the ``ttr`` of its checkpoint when known (its own ``ttr`` key, or the
``metrics.json`` of the training run that wrote the checkpoint), else under a row named after
the checkpoint; stage-1/2 jobs get a row ``stage N``. A cell fed by several jobs shows their
mean, with the standard deviation when they differ.

Writes ``report.md`` and ``mIoU_vs_t.png`` (mIoU against t, one line per row, one panel per
split) into DIR and prints the tables. A folder without ``metrics.json`` and a ``metrics.json``
that is no JSON object or no dis-seg run's raise :class:`~dis_seg.errors.DataError` naming it.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dis_seg.errors import DataError

MIOU_KEY = re.compile(r"mIoU_t(\d+)")

Row = int | str
Cells = dict[Row, dict[int, list[float]]]


def test_blocks(metrics: dict) -> dict[str, dict]:
    """The test metrics of a ``metrics.json`` by split; a file that holds one split's metrics
    at its top level (as dis-seg wrote before the IDW test split) gives them as ``voc``."""
    if "test" in metrics:
        return metrics["test"]
    return {"voc": {key: value for key, value in metrics.items() if MIOU_KEY.fullmatch(key)}}


def collect(directory: Path) -> dict[str, Cells]:
    """mIoU values (fractions) by test split, row (ttr, or a label) and test-time step t."""
    if not directory.is_dir():
        raise DataError(f"{directory} is not a folder")
    paths = sorted(directory.rglob("metrics.json"))
    if not paths:
        raise DataError(
            f"{directory}: no metrics.json under it; expected the folder of a multirun "
            "(dis-seg-train -m ... / dis-seg-eval -m ..., or make sweep)"
        )
    splits: dict[str, Cells] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for path in paths:
        metrics = read_metrics(path)
        if "stage" not in metrics and "ckpt_path" not in metrics:
            raise DataError(
                f"{path}: not a metrics.json of dis-seg-train (no 'stage') "
                "or dis-seg-eval (no 'ckpt_path')"
            )
        row, tts = row_of(metrics), metrics.get("tts")
        for split, block in test_blocks(metrics).items():
            for key, value in block.items():
                match = MIOU_KEY.fullmatch(key)
                if match and value is not None and (tts is None or int(match[1]) <= tts):
                    splits[split][row][int(match[1])].append(value)
    return splits


def read_metrics(path: Path) -> dict:
    """The JSON object of the ``metrics.json`` at ``path``; :class:`DataError` naming it when
    it holds none (a run killed while writing it leaves it empty or cut)."""
    try:
        metrics = json.loads(path.read_text())
    except ValueError:  # invalid JSON or UTF-8
        metrics = None
    if not isinstance(metrics, dict):
        raise DataError(f"{path}: not a JSON object; expected the metrics.json of a dis-seg run")
    return metrics


def row_of(metrics: dict) -> Row:
    """The row of a job's metrics: its ttr, ``stage N`` for stages 1–2, or its checkpoint."""
    if "stage" in metrics:
        return metrics["ttr"] if metrics["stage"] == 3 else f"stage {metrics['stage']}"
    if metrics.get("ttr") is not None:
        return metrics["ttr"]
    ckpt_path = Path(metrics["ckpt_path"])
    training = ckpt_path.parent.parent / "metrics.json"
    if training.is_file():
        return row_of(read_metrics(training))
    return f"ckpt {ckpt_path}"


def sorted_rows(cells: Cells) -> list[Row]:
    """ttr rows in increasing order, then the labelled rows by name."""
    return sorted(cells, key=lambda row: (0, row, "") if isinstance(row, int) else (1, 0, row))


def format_cell(values: list[float]) -> str:
    """Mean mIoU in percent, ``± std`` when the jobs disagree; ``–`` when there is none."""
    if not values:
        return "–"
    mean = 100 * statistics.fmean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {spread:.1f}" if round(spread, 1) > 0 else f"{mean:.1f}"


def markdown_table(cells: Cells) -> str:
    """Rows ttr, columns tts, cells test mIoU in percent."""
    steps = sorted({t for row in cells.values() for t in row})
    lines = [
        "| ttr \\ tts | " + " | ".join(str(t) for t in steps) + " |",
        "|---|" + "---:|" * len(steps),
    ]
    for row in sorted_rows(cells):
        values = [format_cell(cells[row].get(t, [])) for t in steps]
        lines.append(f"| {row} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def percent(value: float | None) -> str:
    """A fraction as ``"12.3 %"``; ``"n/a"`` for a missing (None or NaN) value."""
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.1f} %"


def plot_curves(splits: dict[str, Cells], path: Path) -> None:
    """Save mean mIoU (percent) against t, one line per row and one panel per split, as a
    PNG."""
    figure = Figure(figsize=(6 * len(splits), 4), layout="constrained")
    FigureCanvasAgg(figure)
    for axes, (split, cells) in zip(
        figure.subplots(1, len(splits), squeeze=False)[0], splits.items(), strict=True
    ):
        for row in sorted_rows(cells):
            steps = sorted(cells[row])
            means = [100 * statistics.fmean(cells[row][t]) for t in steps]
            label = f"ttr={row}" if isinstance(row, int) else row
            axes.plot(steps, means, marker="o", label=label)
        axes.set_xticks(sorted({t for row in cells.values() for t in row}))
        axes.set_title(f"{split} test")
        axes.set_xlabel("test-time steps t")
        axes.set_ylabel("test mIoU (%)")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.savefig(path, dpi=120)


def report(directory: Path) -> str:
    """Write ``report.md`` and ``mIoU_vs_t.png`` into ``directory``; return the tables."""
    splits = collect(directory)
    tables = "\n\n".join(
        f"## {split} test\n\n{markdown_table(cells)}" for split, cells in splits.items()
    )
    (directory / "report.md").write_text(
        f"# Test mIoU (%) against training-time (ttr) and test-time (tts) steps\n\n"
        f"From the metrics.json files under `{directory}`.\n\n{tables}\n\n"
        "![mIoU against t](mIoU_vs_t.png)\n"
    )
    plot_curves(splits, directory / "mIoU_vs_t.png")
    return tables
