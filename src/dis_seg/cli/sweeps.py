"""``dis-seg-sweeps [overrides]``: the ``last.ckpt`` that each training job of ``dis-seg-train
-m [overrides]`` writes, one a line (:mod:`dis_seg.runs.sweeps`; ``make sweep`` evaluates them).
"""

import argparse

from dis_seg.runs.sweeps import sweep_checkpoints


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dis-seg-sweeps", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the train multirun")
    for checkpoint in sweep_checkpoints(parser.parse_args(argv).overrides):
        print(checkpoint)


if __name__ == "__main__":
    main()
