"""``dis-seg-coco --captions FILE [--instances FILE] --images DIR --out DIR [--copy]``: COCO's
captioned images as tag-only images in the IDW layout (:mod:`dis_seg.data.coco`, docs/DATA.md).

With ``--instances`` it also writes ``clean_tags.jsonl`` and prints the noise of the caption
tags against the instance tags: per class and overall recall, precision, and false and missed
tags per image.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dis_seg.data.coco import Conversion, convert
from dis_seg.data.tag_quality import format_tag_quality, measure_tags
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.errors import DataError


def summary(conversion: Conversion, out: Path) -> str:
    """What was written and left out; with instance tags, the noise of the caption tags."""
    line = (
        f"wrote {len(conversion.written)} images to {out}; left out {conversion.left_out} "
        "whose captions name no VOC class"
    )
    if conversion.left_out_with_voc_objects is not None:
        line += f", {conversion.left_out_with_voc_objects} of them with VOC objects in instances"
    lines = [line]
    if conversion.left_out_with_voc_objects is not None:
        quality = measure_tags(
            (image.tags for image in conversion.written),
            (image.clean_tags for image in conversion.written),
            VOC_CLASSES[1:],
        )
        lines += ["", "tags of the captions against those of the instances:"]
        lines.append(format_tag_quality(quality))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (module docstring); exit status 1 on a data problem."""
    parser = argparse.ArgumentParser(
        prog="dis-seg-coco",
        description="Write COCO's captioned images as tag-only images in the IDW layout "
        "(docs/DATA.md).",
    )
    parser.add_argument("--captions", type=Path, required=True, help="COCO's captions_<split>.json")
    parser.add_argument(
        "--instances",
        type=Path,
        help="COCO's instances_<split>.json: also write clean_tags.jsonl and measure the noise",
    )
    parser.add_argument("--images", type=Path, required=True, help="the folder of the images")
    parser.add_argument("--out", type=Path, required=True, help="the IDW folder to write")
    parser.add_argument(
        "--copy", action="store_true", help="copy the images instead of linking to them"
    )
    args = parser.parse_args(argv)
    try:
        conversion = convert(args.captions, args.images, args.out, args.instances, args.copy)
    except (DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary(conversion, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
