"""``dis-seg-report DIR``: the ``ttr × tts`` mIoU tables of a multirun folder
(:func:`dis_seg.reports.sweep.report`), printed and written into DIR with the mIoU-versus-t plot.
A file it cannot read or write is one line ``error: ...`` naming it, and exit status 1."""

from __future__ import annotations

import argparse
from pathlib import Path

from dis_seg.errors import DataError
from dis_seg.reports.sweep import report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dis-seg-report", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a multirun folder (searched recursively)")
    directory = parser.parse_args(argv).directory
    try:
        print(report(directory))
    except (DataError, OSError) as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
