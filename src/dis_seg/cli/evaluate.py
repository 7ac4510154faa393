"""``dis-seg-eval ckpt_path=... tts=N [data=...]``: test a checkpoint
(:mod:`dis_seg.runs.evaluation`; ``conf/evaluate.yaml``)."""

import hydra
from omegaconf import DictConfig

from dis_seg import CONFIG_DIR
from dis_seg.runs.evaluation import evaluate
from dis_seg.runs.preflight import RUN_FAILED, reported_errors


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        evaluate(cfg)


if __name__ == "__main__":
    main()
