"""The comparison table of ``make compare`` (``dis-seg-report --compare DIR``): DIS against its
baselines over the data seeds, with 95 % intervals from a paired bootstrap: each row's score,
the differences the goals judge, and DIS against each baseline at t = 0 and t = tts.

Reads, for every ``DIR/seed<S>/<row>`` of :mod:`dis_seg.runs.compare`, the test of the row's
last stage: ``metrics.json`` and ``confusions.npz`` (each test image's confusion matrix at t = 0
and t = tts). A row's score on a test split is the mean over the seeds of its test mIoU. An
interval resamples the seeds and, within each seed drawn, its test images, the same draws for
every row (the rows are tested on the same images, so a difference is judged on them); the
mIoU of a draw is that of its summed confusion matrices (the VOC protocol of
:func:`~dis_seg.models.metrics.segmentation_scores`).

Writes ``compare.md``, ``compare.json`` and ``compare.png`` into DIR and returns the tables.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dis_seg.errors import DataError
from dis_seg.reports.sweep import read_metrics

ROWS = {
    "supervised": ("supervised only", "stage2"),
    "stage1": ("stage 1 with tags, as long", "stage2"),
    "ttr0": ("stage 3, ttr=0 (self-training)", "stage3"),
    "ttr30": ("DIS, stage 3, ttr=30", "stage3"),
}
"""Row folder → (name in the table, the stage whose test scores the row)."""
BASELINES = ("supervised", "stage1", "ttr0")
DRAWS = 2000
LEVEL = 0.95
SEED_FOLDER = re.compile(r"seed(\d+)")


@dataclass
class Tested:
    """One row on one data seed: its ``metrics.json`` and, per test split, the image ids and
    the N×C×C confusion matrices by step t."""

    metrics: dict
    confusions: dict[str, dict[str, np.ndarray]]


def load(directory: Path) -> dict[int, dict[str, Tested]]:
    """data seed → row → its test, for every row every seed folder of ``directory`` holds."""
    seeds = {}
    for folder in sorted(directory.glob("seed*")):
        match = SEED_FOLDER.fullmatch(folder.name)
        if not match:
            continue
        rows = {}
        for row, (_, stage) in ROWS.items():
            run = folder / row / stage
            if (run / "metrics.json").is_file():
                rows[row] = Tested(read_metrics(run / "metrics.json"), _confusions(run))
        seeds[int(match[1])] = rows
    if not any(seeds.values()):
        raise DataError(
            f"{directory}: no seed<S>/<row> folder with a finished test; expected the "
            "compare_dir of dis-seg-compare (make compare)"
        )
    return seeds


def _confusions(run: Path) -> dict[str, dict[str, np.ndarray]]:
    path = run / "confusions.npz"
    if not path.is_file():
        raise DataError(f"{path}: missing; the row's test must run with evaluation.per_image=true")
    with np.load(path) as arrays:
        split: dict[str, dict[str, np.ndarray]] = {}
        for key in arrays.files:
            name, _, field = key.partition("/")
            split.setdefault(name, {})[field] = arrays[key]
    return split


def miou(confusions: np.ndarray) -> np.ndarray:
    """mIoU of …×C×C confusion matrices (rows truth): the mean IoU over the classes present in
    the truth or the prediction."""
    hits = np.diagonal(confusions, axis1=-2, axis2=-1)
    union = confusions.sum(-1) + confusions.sum(-2) - hits
    present = union > 0
    iou = np.where(present, hits / np.maximum(union, 1), 0.0)
    return iou.sum(-1) / np.maximum(present.sum(-1), 1)


@dataclass
class Bootstrap:
    """The draws of a paired bootstrap: per draw the data seeds drawn with replacement
    (``seeds``, D×S, of the seeds ``order``) and, per seed, the multinomial image counts of each
    draw (D×N_s), the same for every row scored."""

    order: list[int]
    seeds: np.ndarray
    counts: dict[int, np.ndarray]

    @classmethod
    def drawn(cls, images: dict[int, int], draws: int, rng: np.random.Generator) -> Bootstrap:
        """Draws over the seeds (keys of ``images``, the number of test images of each)."""
        order = sorted(images)
        picks = rng.integers(0, len(order), size=(draws, len(order)))
        counts = {
            seed: rng.multinomial(n, np.full(n, 1 / n), size=draws) for seed, n in images.items()
        }
        return cls(order, np.asarray(order)[picks], counts)

    def scores(self, confusions: dict[int, np.ndarray]) -> np.ndarray:
        """D scores of one row: per draw, the mean over its seeds of the mIoU of the drawn
        images' summed confusion matrices (``confusions``: seed → N×C×C)."""
        per_seed = np.stack(
            [
                miou(np.einsum("dn,nij->dij", self.counts[seed], confusions[seed].astype(float)))
                for seed in self.order
            ]
        )  # S×D
        rows = np.searchsorted(self.order, self.seeds)  # D×S positions in order
        return per_seed[rows, np.arange(len(self.seeds))[:, None]].mean(axis=1)


def interval(values: np.ndarray) -> tuple[float, float]:
    """The central :data:`LEVEL` interval of bootstrap ``values``, in percent."""
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return 100 * float(low), 100 * float(high)


def compare(directory: Path, draws: int = DRAWS, seed: int = 0) -> dict:
    """The comparison of the rows under ``directory``: per test split, each row's mean mIoU
    and interval at t = 0 and t = tts, the differences the goals judge, and the tag F1 of DIS's
    noisy and cleaned tags."""
    tested = load(directory)
    seeds = sorted(s for s, rows in tested.items() if set(rows) == set(ROWS))
    if not seeds:
        raise DataError(f"{directory}: no data seed with all of the rows {', '.join(ROWS)}")
    first = tested[seeds[0]]["ttr30"]
    tts = first.metrics["tts"]
    rng = np.random.default_rng(seed)
    result: dict = {"seeds": seeds, "tts": tts, "protocol": first.metrics.get("protocol")}
    result["splits"] = {}
    for split in first.confusions:
        sizes = {s: len(tested[s]["ttr30"].confusions[split]["ids"]) for s in seeds}
        _check_same_images(tested, seeds, split)
        sampler = Bootstrap.drawn(sizes, draws, rng)
        scores = {
            (row, t): sampler.scores({s: tested[s][row].confusions[split][f"t{t}"] for s in seeds})
            for row in ROWS
            for t in (0, tts)
        }
        means = {
            key: float(np.mean([_test_miou(tested[s][key[0]], split, key[1]) for s in seeds]))
            for key in scores
        }
        result["splits"][split] = {
            "rows": {
                f"{row}/t{t}": {"mIoU": 100 * means[row, t], "interval": interval(scores[row, t])}
                for row, t in scores
            },
            "differences": _differences(scores, means, tts),
            "against_baselines": against_baselines(scores, means, tts),
        }
    result["tags"] = _tag_f1(tested, seeds)
    return result


def _test_miou(tested: Tested, split: str, t: int) -> float:
    return tested.metrics["test"][split][f"mIoU_t{t}"]


def _check_same_images(tested: dict, seeds: list[int], split: str) -> None:
    for s in seeds:
        ids = [list(tested[s][row].confusions[split]["ids"]) for row in ROWS]
        if any(other != ids[0] for other in ids):
            raise DataError(f"seed{s}: the rows were tested on other {split} images")


def _differences(scores: dict, means: dict, tts: int) -> dict[str, dict]:
    """The differences the goals of docs/RESULTS.md judge, each with its interval."""
    best = max(BASELINES, key=lambda row: max(means[row, 0], means[row, tts]))
    best_t = tts if means[best, tts] >= means[best, 0] else 0
    pairs = {
        f"DIS: tts={tts} − tts=0": (("ttr30", tts), ("ttr30", 0), 1.0),
        f"DIS − best baseline ({best}, tts={best_t})": (("ttr30", tts), (best, best_t), 2.0),
        "ttr=30 − ttr=0, tts=0": (("ttr30", 0), ("ttr0", 0), 1.0),
        f"ttr=30 − ttr=0, tts={tts}": (("ttr30", tts), ("ttr0", tts), 1.0),
    }
    differences = {}
    for name, (a, b, goal) in pairs.items():
        paired = _paired(scores, means, a, b)
        paired.update(goal=goal, met=paired["difference"] >= goal and paired["interval"][0] > 0)
        differences[name] = paired
    return differences


def against_baselines(scores: dict, means: dict, tts: int) -> dict[str, dict]:
    """DIS minus each baseline at the same t (0 and ``tts``), each with its interval."""
    return {
        f"{row}/t{t}": _paired(scores, means, ("ttr30", t), (row, t))
        for row in BASELINES
        for t in (0, tts)
    }


def _paired(scores: dict, means: dict, a: tuple, b: tuple) -> dict:
    """Row ``a`` minus row ``b`` (each ``(row, t)``) in points: the difference of the means
    and the interval of the paired bootstrap draws."""
    return {"difference": 100 * (means[a] - means[b]), "interval": interval(scores[a] - scores[b])}


def _tag_f1(tested: dict, seeds: list[int]) -> dict[str, float] | None:
    """Mean over the seeds of DIS's noisy- and cleaned-tag F1 (its last stage-3 epoch)."""
    trainings = [tested[s]["ttr30"].metrics.get("training", {}) for s in seeds]
    if not all("tags/cleaned_F1" in training for training in trainings):
        return None
    noisy = 100 * float(np.mean([t["tags/noisy_F1"] for t in trainings]))
    cleaned = 100 * float(np.mean([t["tags/cleaned_F1"] for t in trainings]))
    return {"noisy": noisy, "cleaned": cleaned, "met": cleaned >= noisy + 2.0}


def markdown(result: dict) -> str:
    """The three tables: each row's test mIoU, the differences the goals judge, and DIS
    against each baseline at the same t."""
    tts, splits = result["tts"], list(result["splits"])
    header = [f"{split} test, tts={t}" for split in splits for t in (0, tts)]
    lines = ["| row | " + " | ".join(header) + " |", "|---|" + "---:|" * len(header)]
    for row, (name, _) in ROWS.items():
        cells = _row_cells(result, "rows", row, "mIoU", "{:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| difference (points) | " + " | ".join(splits) + " | goal |"]
    lines.append("|---|" + "---:|" * len(splits) + "---|")
    names = list(next(iter(result["splits"].values()))["differences"])
    for index, name in enumerate(names):
        cells = []
        for split in splits:
            entry = list(result["splits"][split]["differences"].values())[index]
            low, high = entry["interval"]
            mark = "met" if entry["met"] else "not met"
            cells.append(f"{entry['difference']:+.1f} [{low:+.1f}, {high:+.1f}] {mark}")
        goal = entry["goal"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | ≥ +{goal:g}, interval above 0 |")
    lines += ["", "| DIS − row at the same t (points) | " + " | ".join(header) + " |"]
    lines.append("|---|" + "---:|" * len(header))
    for row in BASELINES:
        cells = _row_cells(result, "against_baselines", row, "difference", "{:+.1f}")
        lines.append(f"| {ROWS[row][0]} | " + " | ".join(cells) + " |")
    tags = result["tags"]
    if tags:
        mark = "met" if tags["met"] else "not met"
        lines += [
            "",
            f"Tag F1 of DIS's tag-only images (last stage-3 epoch, mean of {len(result['seeds'])} "
            f"seeds): noisy {tags['noisy']:.1f} %, cleaned {tags['cleaned']:.1f} % "
            f"(goal: cleaned ≥ noisy + 2: {mark}).",
        ]
    return "\n".join(lines)


def _row_cells(result: dict, table: str, row: str, value: str, number: str) -> list[str]:
    """A row's cells of ``table`` (``rows`` or ``against_baselines``), split by split at t = 0
    and t = tts: its ``value`` and interval, each formatted by ``number``."""
    cells = []
    for split in result["splits"]:
        for t in (0, result["tts"]):
            entry = result["splits"][split][table][f"{row}/t{t}"]
            low, high = (number.format(bound) for bound in entry["interval"])
            cells.append(f"{number.format(entry[value])} [{low}, {high}]")
    return cells


def plot(result: dict, path: Path) -> None:
    """Bars of each row's mIoU at t = 0 and t = tts with their intervals, a panel per split."""
    splits, tts = list(result["splits"]), result["tts"]
    figure = Figure(figsize=(6 * len(splits), 4), layout="constrained")
    FigureCanvasAgg(figure)
    for axes, split in zip(figure.subplots(1, len(splits), squeeze=False)[0], splits, strict=True):
        for offset, t in ((-0.2, 0), (0.2, tts)):
            entries = [result["splits"][split]["rows"][f"{row}/t{t}"] for row in ROWS]
            means = [entry["mIoU"] for entry in entries]
            lows, highs = zip(*(entry["interval"] for entry in entries), strict=True)
            errors = np.array([np.subtract(means, lows), np.subtract(highs, means)])
            axes.bar(np.arange(len(ROWS)) + offset, means, 0.4, yerr=errors, label=f"tts={t}")
        axes.set_xticks(range(len(ROWS)), [name for name, _ in ROWS.values()], rotation=15)
        axes.set_ylabel("test mIoU (%), 95 % interval")
        axes.set_title(f"{split} test, {len(result['seeds'])} data seeds")
        axes.legend()
    figure.savefig(path, dpi=120)


def report(directory: Path) -> str:
    """Write ``compare.md``, ``compare.json`` and ``compare.png`` into ``directory``; return the
    tables."""
    result = compare(directory)
    tables = markdown(result)
    seeds = ", ".join(str(s) for s in result["seeds"])
    (directory / "compare.md").write_text(
        f"# DIS against its baselines trained as long\n\nData seeds {seeds}; test protocol "
        f"{result['protocol']}; mean test mIoU (%) over the seeds with 95 % intervals of a "
        f"paired bootstrap over seeds and test images ({DRAWS} draws).\n\n{tables}\n\n"
        "![mIoU of each row](compare.png)\n"
    )
    (directory / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, directory / "compare.png")
    return tables
