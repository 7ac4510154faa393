"""``dis-seg-train stage=1|2|3 [overrides]``: train one DIS stage, then test it
(:mod:`dis_seg.runs.training`; ``conf/train.yaml``)."""

from omegaconf import DictConfig

from dis_seg.errors import RUN_FAILED
from dis_seg.runs.app import hydra_app, reported_errors
from dis_seg.runs.training import train


@hydra_app("train")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        train(cfg)


if __name__ == "__main__":
    main()
