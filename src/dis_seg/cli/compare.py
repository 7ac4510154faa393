"""``dis-seg-compare [arm=...] [data_seed=N] [train=[...]]``: the rows of one arm of the
comparison of DIS with its baselines on one data seed (:mod:`dis_seg.runs.compare`;
``conf/compare.yaml``); ``make compare`` runs every arm on three data seeds."""

from omegaconf import DictConfig

from dis_seg.errors import RUN_FAILED
from dis_seg.runs.app import hydra_app, reported_errors
from dis_seg.runs.compare import compare_arm


@hydra_app("compare")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        status = compare_arm(cfg)
    if status:
        raise SystemExit(status)


if __name__ == "__main__":
    main()
