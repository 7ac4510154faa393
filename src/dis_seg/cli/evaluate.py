"""``dis-seg-eval ckpt_path=... tts=N [data=...]``: test a checkpoint
(:mod:`dis_seg.runs.evaluation`; ``conf/evaluate.yaml``)."""

from omegaconf import DictConfig

from dis_seg.errors import RUN_FAILED
from dis_seg.runs.app import hydra_app, reported_errors
from dis_seg.runs.evaluation import evaluate


@hydra_app("evaluate")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        evaluate(cfg)


if __name__ == "__main__":
    main()
