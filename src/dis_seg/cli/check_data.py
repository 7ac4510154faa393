"""``dis-seg-check-data [overrides]``: inspect a prepared data set without training.

Composes ``conf/train.yaml`` with the Hydra overrides given (``data=voc_idw
paths.voc_root=/data/VOC2012``, ``experiment=voc_idw``, ...) and reads every sample of each
split its ``data`` config names (:mod:`dis_seg.data.check`); prints a table of counts per
split, then the problems, each naming its file. Exit status 0 when no problem was found, 1 when
some were, 2 for overrides that do not compose or choose a partition the train split cannot
hold.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from dis_seg import CONFIG_DIR
from dis_seg.data import check
from dis_seg.errors import ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    """Check the splits of the composed config; the exit status (module docstring)."""
    overrides = list(sys.argv[1:] if argv is None else argv)
    if {"-h", "--help"} & set(overrides):
        print(f"{__doc__}\n{check.__doc__}")
        return 0
    try:
        with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
            cfg = compose("train", overrides)
        splits = check.configured_splits(cfg.data)
    except (HydraException, OmegaConfBaseException, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"data.voc_root: {cfg.data.voc_root}\ndata.idw_root: {cfg.data.idw_root}")
    reports = [check.check_split(split) for split in splits]
    print(check.format_reports(reports))
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
