"""``dis-seg-diagnose ckpt_path=... [split=val] [tts=N]``: why iterative inference helps or
hurts a checkpoint (:mod:`dis_seg.reports.diagnostics`; ``conf/diagnose.yaml``)."""

import hydra
from omegaconf import DictConfig

from dis_seg import CONFIG_DIR
from dis_seg.reports.diagnostics.diagnose import diagnose
from dis_seg.runs.preflight import RUN_FAILED, reported_errors


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="diagnose")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        diagnose(cfg)


if __name__ == "__main__":
    main()
