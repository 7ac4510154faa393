"""``python -m dis_seg.summary RUN_DIR``: the table ``make train`` ends with.

Reads ``RUN_DIR/stage1/metrics.json`` and ``RUN_DIR/stage3/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_metrics(run_dir: Path, stage: int) -> dict:
    path = run_dir / f"stage{stage}" / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make train-stage{stage}` first")
    return json.loads(path.read_text())


def summary_table(run_dir: Path) -> str:
    """A Markdown table: baseline versus DIS mIoU, tag mAP, tag cleaning and pseudo labels."""
    baseline, dis = load_metrics(run_dir, 1), load_metrics(run_dir, 3)
    tts, ttr = dis["tts"], dis["ttr"]
    training = dis.get("training", {})
    rows = [
        ("stage-1 baseline test mIoU", _percent(baseline.get("mIoU_t0"))),
        ("stage-3 test mIoU, tts=0", _percent(dis.get("mIoU_t0"))),
        (f"stage-3 test mIoU, tts={tts}", _percent(dis.get(f"mIoU_t{tts}"))),
        ("stage-1 test tag mAP", _percent(baseline.get("tag_mAP"))),
        ("stage-3 test tag mAP", _percent(dis.get("tag_mAP"))),
        ("tag F1, noisy input tags", _percent(training.get("tags/noisy_F1"))),
        (f"tag F1, cleaned tags (ttr={ttr})", _percent(training.get("tags/cleaned_F1"))),
        ("pseudo-label mIoU, t=0", _percent(training.get("pseudo/mIoU_t0"))),
        (f"pseudo-label mIoU, t=ttr={ttr}", _percent(training.get("pseudo/mIoU"))),
    ]
    lines = ["| measure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the experiment's run folder")
    print(summary_table(parser.parse_args(argv).run_dir))


if __name__ == "__main__":
    main()
