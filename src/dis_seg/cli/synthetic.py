"""``dis-seg-synthetic --out DIR [options]``: write the synthetic data set in the VOC 2012 and
IDW formats (:func:`dis_seg.data.synthetic.generate`, which describes the layout).
``dis-seg-synthetic --audit DIR``: measure what the data set in DIR must show
(:mod:`dis_seg.reports.synthetic_audit`); exit status 0 when every property is met, 1 otherwise."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dis_seg.data.synthetic import default_parameters, generate
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.errors import REFUSED
from dis_seg.reports.synthetic_audit import audit, format_findings
from dis_seg.runs.app import reported_errors


def main(argv: Sequence[str] | None = None) -> None:
    defaults = default_parameters()
    parser = argparse.ArgumentParser(
        prog="dis-seg-synthetic",
        description="Write a synthetic data set in the VOC 2012 and IDW formats, or audit one.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="output folder")
    target.add_argument(
        "--audit", type=Path, metavar="DIR", help="audit the data set in DIR instead"
    )
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument("--size", type=int, default=defaults["size"], help="image side in pixels")
    parser.add_argument(
        "--num-labelled", type=int, default=defaults["num_labelled"], help="VOC train images"
    )
    parser.add_argument(
        "--num-tag-only", type=int, default=defaults["num_tag_only"], help="IDW images"
    )
    parser.add_argument("--num-val", type=int, default=defaults["num_val"], help="VOC val images")
    parser.add_argument(
        "--num-test", type=int, default=defaults["num_test"], help="VOC test images"
    )
    parser.add_argument(
        "--num-idw-test", type=int, default=defaults["num_idw_test"], help="IDW test images"
    )
    parser.add_argument(
        "--tag-noise",
        type=float,
        nargs=2,
        default=defaults["tag_noise"],
        metavar=("DROP", "ADD"),
        help="probability of leaving out a small or mostly hidden object's tag (a tenth of it "
        "for the others); of adding one false tag",
    )
    parser.add_argument(
        "--classes",
        default="all",
        help="object classes: 'all', a count N (the first N VOC classes) or comma-separated names",
    )
    args = parser.parse_args(argv)
    if args.audit is not None:
        findings = audit(args.audit)
        print(format_findings(findings))
        sys.exit(0 if all(f.met for f in findings) else 1)
    if args.classes == "all":
        classes = None
    elif args.classes.isdigit():
        classes = list(VOC_CLASSES[1 : 1 + int(args.classes)])
    else:
        classes = [name.strip() for name in args.classes.split(",")]
    start = time.perf_counter()
    chosen = {name: getattr(args, name) for name in defaults if name != "classes"}
    with reported_errors(REFUSED):
        generate(args.out, **chosen, classes=classes)
    print(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
