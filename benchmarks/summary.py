"""The stored benchmark results and the numbers the report derives from them.

The names of groups and cases that ``benchmarks/bench.py`` runs and ``benchmarks/measure.py``
records live here, so that the command, the targets and the report read them from one place.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

RESULTS = Path(__file__).resolve().parent / "results"
DEVICES = ("cpu", "cuda")
BATCHES = (1, 8)
METHODS = ("fast", "autograd")
EAGER = "-eager"
COMPILED = "-compiled"
# training step name → (group, case)
TRAIN_CASES = {
    "DIS stage 1": ("stage1", "step"),
    "DIS stage 3, ttr=0": ("stage3", "ttr0"),
    "DIS stage 3, ttr=30": ("stage3", "ttr30"),
    "deeplabv3_resnet101": ("deeplab", "step"),
}
# the shape of experiment=voc: its cases by the names the report gives them
VOC_GROUP = "voc-shape"
VOC_CASES = {
    "stage-1 training step": "train-stage1",
    "stage-3 training step, ttr=30": "train-stage3/ttr30",
    "sliding-window evaluation, tts=0": "slide/0",
    "sliding-window evaluation, tts=30": "slide/30",
}
OPTION_NAMES = {
    "fp32": "fp32 (default)",
    "cudnn_benchmark": "cudnn benchmark",
    "channels_last": "channels_last",
    "bf16": "bf16 autocast",
    "channels_last+bf16": "channels_last + bf16 autocast",
    "compile": "torch.compile of the backbone",
}
T = TypeVar("T")


def stored_results() -> dict[str, dict]:
    """The results in ``benchmarks/results/``, by device."""
    paths = {device: RESULTS / f"{device}.json" for device in DEVICES}
    return {
        device: json.loads(path.read_text()) for device, path in paths.items() if path.is_file()
    }


def measured_by(results: dict, key: str) -> dict:
    """The run that measured group ``key``: the last of ``results["updates"]`` that lists it,
    else ``results`` themselves (both hold machine, settings, date, minutes, load_average and
    complete)."""
    updates = [update for update in results.get("updates", []) if key in update["groups"]]
    return updates[-1] if updates else results


class NotMeasured(Exception):
    """A group or case the report needs is missing from the results; the message names it."""


class Summary:
    """The numbers of the report, derived from one device's results. Each raises NotMeasured
    where a group or case it needs is missing."""

    def __init__(self, results: dict) -> None:
        self.results = results
        self.groups = results["groups"]
        self.cuda = results["device"] == "cuda"

    def runs(self, group: str, case: str) -> list[dict]:
        """The timed repetitions of ``case`` in ``group``."""
        if group not in self.groups:
            raise NotMeasured(group)
        if case not in self.groups[group]:
            raise NotMeasured(f"{group} {case}")
        return self.groups[group][case]

    def encoded(self, group: str, case: str, batch: int) -> float:
        """Seconds per image of encode + ``case`` in ``group`` (of ``batch`` images), median
        over repetitions."""
        pairs = zip(self.runs(group, "encode"), self.runs(group, case), strict=True)
        return statistics.median(e["seconds"] + c["seconds"] for e, c in pairs) / batch

    def dis(self, batch: int, case: str) -> float:
        """Seconds per image of encode + ``case`` (``variant/tts``), median over repetitions."""
        return self.encoded(f"dis-inference/{batch}", case, batch)

    def default(self, batch: int, tts: int) -> float:
        """Seconds per image of encode + ``tts`` steps by ``method="auto"``: the autograd
        descent without steps (the plain prediction), fast steps otherwise."""
        return self.dis(batch, "autograd/0" if tts == 0 else f"fast/{tts}")

    def plain(self, batch: int) -> float:
        """Seconds per image of the plain prediction (tts=0), the cheaper of the two methods."""
        return min(self.dis(batch, f"{method}/0") for method in METHODS)

    def encode(self, batch: int) -> float:
        """Seconds per image of the backbone, median over repetitions."""
        return median_seconds(self.runs(f"dis-inference/{batch}", "encode")) / batch

    def deeplab(self, batch: int) -> float:
        """Seconds per image of DeepLabV3's forward and argmax, median over repetitions."""
        return median_seconds(self.runs(f"deeplab-inference/{batch}", "forward")) / batch

    def deeplab_peak(self, batch: int) -> float:
        """Peak memory of DeepLabV3's inference."""
        return peak(self.runs(f"deeplab-inference/{batch}", "forward"))

    def variants(self) -> list[str]:
        """The iterative-inference variants measured (``fast``, ``fast-compiled``,
        ``fast-eager``, ...), each method's default path followed by its compiled and its eager
        one."""
        cases = {case for b in BATCHES for case in self.groups.get(f"dis-inference/{b}", {})}
        return [v for m in METHODS for v in (m, m + COMPILED, m + EAGER) if f"{v}/0" in cases]

    def refined_paths(self, batch: int) -> dict[str, str]:
        """The ways of taking tts steps measured at ``batch``, name → variant: ``auto`` (the
        default path) and, where measured, ``compile_steps``."""
        paths = {"auto": "fast"}
        if known(self.dis, batch, f"fast{COMPILED}/30") is not None:
            paths["compile_steps"] = f"fast{COMPILED}"
        return paths

    def steps(self, batch: int, variant: str) -> float:
        """Seconds of 30 steps for the whole batch: tts=30 − tts=0, the median of paired
        repetitions."""
        group = f"dis-inference/{batch}"
        after, before = self.runs(group, f"{variant}/30"), self.runs(group, f"{variant}/0")
        pairs = zip(after, before, strict=True)
        return statistics.median(a["seconds"] - b["seconds"] for a, b in pairs)

    def step(self, batch: int, variant: str, per_image: bool = True) -> float:
        """Seconds per step and image (or per step and batch): :meth:`steps` / 30."""
        return self.steps(batch, variant) / 30 / (batch if per_image else 1)

    def dis_peak(self, batch: int, case: str) -> float:
        """Peak memory of the whole inference: the encode's or the steps', whichever is more."""
        group = f"dis-inference/{batch}"
        return max(peak(self.runs(group, "encode")), peak(self.runs(group, case)))

    def steps_peak(self, batch: int, case: str) -> tuple[float, float]:
        """Peak memory during iterative inference and what it adds to the resident memory."""
        runs = self.runs(f"dis-inference/{batch}", case)
        return peak(runs), peak(runs) - statistics.median(r["resident"] for r in runs)

    def train(self, name: str) -> float:
        """Median seconds of the training step called ``name`` (a key of TRAIN_CASES)."""
        return median_seconds(self.train_runs(name))

    def train_runs(self, name: str) -> list[dict]:
        """The timed repetitions of the training step called ``name``."""
        group, case = TRAIN_CASES[name]
        return self.runs(f"train-{group}", case)

    def ttr_steps(self) -> float:
        """Seconds that ttr=30 adds to a stage-3 step, the median of paired repetitions."""
        refined, plain = (
            self.train_runs("DIS stage 3, ttr=30"),
            self.train_runs("DIS stage 3, ttr=0"),
        )
        pairs = zip(refined, plain, strict=True)
        return statistics.median(a["seconds"] - b["seconds"] for a, b in pairs)

    def option(self, option: str, case: str) -> float:
        """Under ``option``: median seconds of the stage-1 step for ``train/step``, else seconds
        per image of the backbone alone for ``encode``, or of encode + ``case``."""
        group, batch = f"options/{option}", self.results["settings"]["options_batch"]
        if case == "train/step":
            return median_seconds(self.runs(group, case))
        if case == "encode":
            return median_seconds(self.runs(group, case)) / batch
        return self.encoded(group, case, batch)


def median_seconds(runs: list[dict]) -> float:
    """Median seconds of repetitions."""
    return statistics.median(run["seconds"] for run in runs)


def peak(runs: list[dict]) -> float:
    """The highest peak memory of repetitions."""
    return max(run["peak"] for run in runs)


def known(value: Callable[..., T], *args) -> T | None:
    """``value(*args)``, or None where a group or case it needs was not measured."""
    try:
        return value(*args)
    except NotMeasured:
        return None


def divided(numerator: float | None, denominator: float | None) -> float | None:
    """The quotient, or None where either was not measured."""
    return None if numerator is None or denominator is None else numerator / denominator
