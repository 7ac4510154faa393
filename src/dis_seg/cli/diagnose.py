"""``dis-seg-diagnose ckpt_path=... [split=val] [tts=N]``: why iterative inference helps or
hurts a checkpoint (:mod:`dis_seg.reports.diagnostics`; ``conf/diagnose.yaml``)."""

from omegaconf import DictConfig

from dis_seg.errors import RUN_FAILED
from dis_seg.reports.diagnostics.diagnose import diagnose
from dis_seg.runs.app import hydra_app, reported_errors


@hydra_app("diagnose")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        diagnose(cfg)


if __name__ == "__main__":
    main()
