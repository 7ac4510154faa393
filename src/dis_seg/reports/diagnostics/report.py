"""The diagnostics report: ``report.md`` with its tables, four plots and ``diagnostics.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dis_seg.reports.diagnostics.measures import DIRECTIONS, KINDS, REGIONS
from dis_seg.reports.sweep import percent
from dis_seg.runs.results import write_metrics

PLOTS = ("energy.png", "changes.png", "per_class_iou.png", "tags.png")


def write_report(folder: Path, results: dict[str, Any]) -> list[Path]:
    """Write ``report.md``, ``diagnostics.json`` and the plots of ``results`` (what
    :func:`~dis_seg.reports.diagnostics.diagnose.diagnose` returns) into ``folder``; return the
    plots' paths."""
    folder.mkdir(parents=True, exist_ok=True)
    write_metrics(folder / "diagnostics.json", results)
    segmentation, tags = results["segmentation"], results.get("tags")
    plots = [
        _energy_plot(folder / "energy.png", segmentation["energy"]),
        _save(changes_figure(segmentation["changes"]), folder / "changes.png"),
        _iou_plot(folder / "per_class_iou.png", segmentation),
    ]
    if tags is not None:
        plots.append(_tags_plot(folder / "tags.png", tags))
    (folder / "report.md").write_text(markdown(results))
    return plots


def markdown(results: dict[str, Any]) -> str:
    """The report as Markdown: energy, step changes, per-class IoU and tag cleaning."""
    seg = results["segmentation"]
    steps, energy = seg["steps"], seg["energy"]
    lines = [
        f"# Diagnostics of {results['ckpt_path']}",
        "",
        f"Split `{results['split']}`, {energy['images']} images; {steps} steps of size "
        f"{seg['step_size']:g}; step control {results['control']}.",
        "",
        "## Does the energy prefer the truth?",
        "",
        "Reconstruction energy (mean over images; the truth is fed to subnet-2 as per-cell "
        "class fractions on the grid of the reconstruction).",
        "",
        "| labelmap | energy | truth below it |",
        "|---|---:|---:|",
        f"| truth | {energy['truth']:.4f} | |",
        f"| prediction, t=0 | {energy['prediction_t0']:.4f} | "
        f"{percent(energy['truth_below_prediction_t0'])} of images |",
        f"| prediction, t={steps} | {energy['prediction_tts']:.4f} | "
        f"{percent(energy['truth_below_prediction_tts'])} of images |",
        "",
        "![energy](energy.png)",
        "",
        "## What the steps change",
        "",
        f"Pixels that change against t = 0 ({seg['changes']['pixels']} labelled pixels): "
        "right→wrong (r→w) and wrong→right (w→r), split by the change of predicted class "
        "(bg: background, obj: an object class) and by region (boundary: within "
        f"{results['boundary_radius']} pixels of a class edge of the truth).",
        "",
    ]
    lines += _changes_table(seg["changes"]["per_step"])
    lines += ["", "![changes](changes.png)", "", "## Per-class IoU", ""]
    lines += _iou_table(seg["iou"], steps)
    lines += ["", "![per-class IoU](per_class_iou.png)", ""]
    tags = results.get("tags")
    lines += ["## Tags", ""]
    if tags is None:
        lines += ["No tag-only images with clean tags in this data: not measured.", ""]
    else:
        lines += _tags_tables(tags)
        lines += ["", "![tags](tags.png)", ""]
    return "\n".join(lines)


def _changes_table(per_step: dict[int, dict[str, int]]) -> list[str]:
    columns = [f"{d}/{k}" for d in DIRECTIONS for k in (*KINDS, *REGIONS)]
    header = ["t", "right→wrong", "wrong→right", *(_short(column) for column in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for t, row in per_step.items():
        values = [row["right_to_wrong"], row["wrong_to_right"], *(row[c] for c in columns)]
        lines.append(f"| {t} | " + " | ".join(str(v) for v in values) + " |")
    return lines


SHORT = {
    "right_to_wrong": "r→w",
    "wrong_to_right": "w→r",
    "background_to_object": "bg→obj",
    "object_to_background": "obj→bg",
    "object_to_object": "obj→obj",
}


def _short(column: str) -> str:
    """``right_to_wrong/background_to_object`` → ``r→w bg→obj``."""
    return " ".join(SHORT.get(part, part) for part in column.split("/"))


def _iou_table(iou: dict[int, dict[str, Any]], steps: int) -> list[str]:
    first, last = iou[0], iou[steps]
    lines = [
        f"mIoU {percent(first['mIoU'])} at t=0, {percent(last['mIoU'])} at t={steps}.",
        "",
        f"| class | t=0 | t={steps} | change |",
        "|---|---:|---:|---:|",
    ]
    for name, before in first["per_class_IoU"].items():
        after = last["per_class_IoU"][name]
        change = "" if _missing(before) or _missing(after) else f"{100 * (after - before):+.1f}"
        lines.append(f"| {name} | {percent(before)} | {percent(after)} | {change} |")
    return lines


def _tags_tables(tags: dict[str, Any]) -> list[str]:
    lines = [
        f"Tags of the tag-only images against their clean tags: the noisy input tags, and "
        f"those cleaned by {tags['ttr']} steps with tag weight {tags['tag_weight']:g} "
        f"(threshold {tags['tag_threshold']:g}, margin {tags['tag_margin']:g} on sigmoid(v3)).",
        "",
        "| tags | precision | recall | F1 |",
        "|---|---:|---:|---:|",
    ]
    for name in ("noisy", "cleaned"):
        scores = tags[name]
        lines.append(
            f"| {name} | {percent(scores['precision'])} | {percent(scores['recall'])} | "
            f"{percent(scores['F1'])} |"
        )
    pseudo = tags.get("pseudo_labels")
    if pseudo is not None:
        lines += [
            "",
            f"Pseudo labels of these images against their hidden labelmaps: mIoU "
            f"{percent(pseudo['mIoU_t0'])} at t=0, {percent(pseudo['mIoU_ttr'])} after "
            f"{tags['ttr']} steps.",
        ]
    lines += ["", "| class | F1 noisy | F1 cleaned |", "|---|---:|---:|"]
    for name, noisy in tags["noisy"]["per_class"].items():
        cleaned = tags["cleaned"]["per_class"][name]
        lines.append(f"| {name} | {percent(noisy['F1'])} | {percent(cleaned['F1'])} |")
    return lines


def _energy_plot(path: Path, energy: dict[str, Any]) -> Path:
    per_image = energy["per_image"]
    figure, axis = _figure(figsize=(4.5, 4.5))
    axis.scatter(per_image["initial"], per_image["truth"], s=10, label="prediction, t=0")
    axis.scatter(per_image["refined"], per_image["truth"], s=10, label="prediction, last t")
    values = [v for key in ("truth", "initial", "refined") for v in per_image[key]]
    low, high = (min(values), max(values)) if values else (0, 1)
    axis.plot([low, high], [low, high], color="grey", linewidth=1)
    axis.set(xlabel="energy of the prediction", ylabel="energy of the truth")
    axis.set_title("below the diagonal: the energy prefers the truth", fontsize=9)
    axis.legend(fontsize=8)
    return _save(figure, path)


def changes_figure(changes: dict[str, Any]) -> Figure:
    """Pixels turned right→wrong and wrong→right against t: in all (left) and by change of
    class (right), from the ``changes`` of :meth:`SegmentationDiagnostics.results`."""
    per_step = changes["per_step"]
    steps = [0, *per_step]
    figure, axes = _figure(2, figsize=(10, 4))
    for direction, style in zip(DIRECTIONS, ("-", "--"), strict=True):
        counts = [0, *(row[direction] for row in per_step.values())]
        axes[0].plot(steps, counts, style, marker="o", label=direction.replace("_", " "))
        for kind in KINDS:
            counts = [0, *(row[f"{direction}/{kind}"] for row in per_step.values())]
            label = f"{direction}: {kind}".replace("_", " ")
            axes[1].plot(steps, counts, style, marker=".", label=label)
    axes[0].set(xlabel="step t", ylabel="pixels", title="changes against t = 0")
    axes[1].set(xlabel="step t", ylabel="pixels", title="by change of class")
    for axis in axes:
        axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _iou_plot(path: Path, segmentation: dict[str, Any]) -> Path:
    steps = segmentation["steps"]
    first = segmentation["iou"][0]["per_class_IoU"]
    last = segmentation["iou"][steps]["per_class_IoU"]
    names = list(first)
    positions = range(len(names))
    figure, axis = _figure(figsize=(10, 3.5))
    axis.bar([p - 0.2 for p in positions], [_zero(first[n]) for n in names], 0.4, label="t=0")
    axis.bar([p + 0.2 for p in positions], [_zero(last[n]) for n in names], 0.4, label=f"t={steps}")
    axis.set_xticks(list(positions), names, rotation=60, ha="right", fontsize=7)
    axis.set(ylabel="IoU", ylim=(0, 1))
    axis.legend(fontsize=8)
    return _save(figure, path)


def _tags_plot(path: Path, tags: dict[str, Any]) -> Path:
    names = list(tags["noisy"]["per_class"])
    positions = range(len(names))
    figure, axis = _figure(figsize=(10, 3.5))
    for offset, name in ((-0.2, "noisy"), (0.2, "cleaned")):
        scores = [tags[name]["per_class"][n]["F1"] for n in names]
        axis.bar([p + offset for p in positions], scores, 0.4, label=f"{name} tags")
    axis.set_xticks(list(positions), names, rotation=60, ha="right", fontsize=7)
    axis.set(ylabel="F1 against the clean tags", ylim=(0, 1))
    axis.legend(fontsize=8)
    return _save(figure, path)


def _figure(columns: int = 1, *, figsize: tuple[float, float]):
    """A figure outside pyplot's global state and its axes (one, or a row of ``columns``)."""
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(1, columns)


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def _zero(value: float | None) -> float:
    return 0.0 if _missing(value) else value
