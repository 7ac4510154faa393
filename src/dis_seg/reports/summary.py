"""The tables ``make train`` ends with (``dis-seg-summary RUN_DIR``).

Reads ``RUN_DIR/stage1/metrics.json`` and ``RUN_DIR/stage3/metrics.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from dis_seg.reports.sweep import percent

UNCONTROLLED = (
    "Stage 3 trained on top of stage 1, so the rows above differ in training length as well as "
    "in method: DIS against baselines trained as long is `make compare` (docs/RESULTS.md)."
)


def load_metrics(run_dir: Path, stage: int) -> dict:
    path = run_dir / f"stage{stage}" / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make train-stage{stage}` first")
    return json.loads(path.read_text())


def summary_table(run_dir: Path) -> str:
    """Markdown tables: stage-1 and stage-3 mIoU and tag mAP on each test split (the paper's VOC
    and IDW tables side by side), a line saying that stage 1 trained fewer epochs (so that the
    difference is not DIS's gain; ``make compare`` measures that), then tag cleaning and pseudo
    labels of stage 3."""
    baseline, dis = load_metrics(run_dir, 1), load_metrics(run_dir, 3)
    tts, ttr = dis["tts"], dis["ttr"]
    splits = list(dis["test"])
    rows = [
        ("stage-1 test mIoU", baseline["test"], "mIoU_t0"),
        ("stage-3 test mIoU, tts=0", dis["test"], "mIoU_t0"),
        (f"stage-3 test mIoU, tts={tts}", dis["test"], f"mIoU_t{tts}"),
        ("stage-1 test tag mAP", baseline["test"], "tag_mAP"),
        ("stage-3 test tag mAP", dis["test"], "tag_mAP"),
    ]
    lines = ["| measure | " + " | ".join(f"{split} test" for split in splits) + " |"]
    lines.append("|---|" + "---:|" * len(splits))
    for name, blocks, key in rows:
        values = [percent(blocks.get(split, {}).get(key)) for split in splits]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    lines += ["", UNCONTROLLED]
    training = dis.get("training", {})
    stage3 = [
        ("tag F1, noisy input tags", training.get("tags/noisy_F1")),
        (f"tag F1, cleaned tags (ttr={ttr})", training.get("tags/cleaned_F1")),
        ("pseudo-label mIoU, t=0", training.get("pseudo/mIoU_t0")),
        (f"pseudo-label mIoU, t=ttr={ttr}", training.get("pseudo/mIoU")),
    ]
    lines += ["", "| stage-3 training, last epoch | value |", "|---|---:|"]
    lines += [f"| {name} | {percent(value)} |" for name, value in stage3]
    return "\n".join(lines)
