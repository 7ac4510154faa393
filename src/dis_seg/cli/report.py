"""``dis-seg-report DIR``: the ``ttr × tts`` mIoU tables of a multirun folder
(:func:`dis_seg.reports.sweep.report`), printed and written into DIR with the mIoU-versus-t plot;
``dis-seg-report --compare DIR``: the comparison table of ``make compare``
(:func:`dis_seg.reports.compare.report`) with its plot. A file it cannot read or write is one
line ``error: ...`` naming it, and exit status 1."""

from __future__ import annotations

import argparse
from pathlib import Path

from dis_seg.errors import DataError
from dis_seg.reports import compare, sweep


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dis-seg-report", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a multirun folder (searched recursively)")
    parser.add_argument(
        "--compare", action="store_true", help="DIR is the compare_dir of dis-seg-compare"
    )
    args = parser.parse_args(argv)
    try:
        print((compare if args.compare else sweep).report(args.directory))
    except (DataError, OSError) as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
