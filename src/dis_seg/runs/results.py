"""Recording a run's results: the test block of ``metrics.json`` and the file itself."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dis_seg.callbacks import IterativeInferenceCallback


def evaluation_results(evaluation: IterativeInferenceCallback) -> dict[str, Any]:
    """What ``metrics.json`` records of the test: the evaluation ``protocol`` by name and under
    ``test`` one block per test split (``voc``, ``idw``), the evaluation's results of that
    split: ``mIoU_t{t}`` and ``recon_error_t{t}`` for every scheduled t, ``per_class_IoU`` (by
    class name) and ``pixel_accuracy`` at t = tts, ``tag_mAP`` and ``non_finite_samples``.
    mIoU values are fractions."""
    blocks = {
        split.partition("/")[2] or "test": dict(results)
        for split, results in evaluation.results.items()
        if split.partition("/")[0] == "test"
    }
    return {"protocol": evaluation.protocol.name, "test": blocks}


def result_lines(results: dict[str, Any]) -> list[str]:
    """One line per test split of ``evaluation_results``: its mIoU at every step t, in the order of
    t, and its tag mAP, in percent."""
    lines = []
    for split, block in results["test"].items():
        steps = sorted(int(key.removeprefix("mIoU_t")) for key in block if key.startswith("mIoU_t"))
        curve = ", ".join(f"t={t} {100 * block[f'mIoU_t{t}']:.1f}" for t in steps)
        lines.append(
            f"test/{split} ({results['protocol']}): mIoU % {curve}; "
            f"tag mAP {100 * block['tag_mAP']:.1f} %"
        )
    return lines


CONFUSIONS = "confusions.npz"


def write_confusions(folder: Path, evaluation: IterativeInferenceCallback) -> None:
    """Write the per-image confusion matrices of the test splits (``evaluation.per_image``)
    into ``folder/confusions.npz``: per split ``<set>/ids`` and ``<set>/t<t>`` (N×C×C) for
    t = 0 and t = tts; nothing without them."""
    arrays = {
        f"{split.partition('/')[2] or 'test'}/{name}": np.asarray(values)
        for split, confusions in evaluation.confusions.items()
        for name, values in confusions.items()
    }
    if arrays:
        np.savez_compressed(folder / CONFUSIONS, **arrays)


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    """Write ``metrics`` as JSON; NaN (a class absent from truth and prediction) becomes null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(metrics), indent=2) + "\n")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
