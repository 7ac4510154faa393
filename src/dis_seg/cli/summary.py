"""``dis-seg-summary RUN_DIR``: the tables ``make train`` ends with
(:mod:`dis_seg.reports.summary`)."""

import argparse
from pathlib import Path

from dis_seg.reports.summary import summary_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dis-seg-summary", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the experiment's run folder")
    print(summary_table(parser.parse_args(argv).run_dir))


if __name__ == "__main__":
    main()
