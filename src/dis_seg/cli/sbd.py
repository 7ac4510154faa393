"""``dis-seg-sbd --sbd DIR --voc VOC2012 [--lists]``: write VOC's ``SegmentationClassAug`` and
``train_aug.txt`` from SBD (:mod:`dis_seg.data.sbd`, docs/DATA.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dis_seg.data.sbd import SPLITS, convert
from dis_seg.errors import DataError


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (module docstring); exit status 1 on a data problem."""
    parser = argparse.ArgumentParser(
        prog="dis-seg-sbd",
        description="Write VOC2012/SegmentationClassAug and train_aug.txt from SBD (docs/DATA.md).",
    )
    parser.add_argument(
        "--sbd", type=Path, required=True, help="SBD's benchmark_RELEASE/dataset folder"
    )
    parser.add_argument("--voc", type=Path, required=True, help="the VOC2012 folder")
    parser.add_argument(
        "--lists",
        action="store_true",
        help="write only ImageSets/Segmentation/train_aug.txt, not the masks",
    )
    args = parser.parse_args(argv)
    try:
        train_aug = convert(args.sbd, args.voc, masks=not args.lists)
    except (DataError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{args.voc / SPLITS / 'train_aug.txt'}: {len(train_aug)} ids")
    return 0


if __name__ == "__main__":
    sys.exit(main())
