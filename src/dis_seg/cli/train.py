"""``dis-seg-train stage=1|2|3 [overrides]``: train one DIS stage, then test it
(:mod:`dis_seg.runs.training`; ``conf/train.yaml``)."""

import hydra
from omegaconf import DictConfig

from dis_seg import CONFIG_DIR
from dis_seg.runs.preflight import RUN_FAILED, reported_errors
from dis_seg.runs.training import train


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        train(cfg)


if __name__ == "__main__":
    main()
