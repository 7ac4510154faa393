"""``dis-seg-predict ckpt_path=... input_dir=... output_dir=... tts=N``: labelmaps for a folder
of images (:mod:`dis_seg.runs.predict_folder`; ``conf/predict.yaml``). Exit status 1 when an
image could not be read (the others are written)."""

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from dis_seg import CONFIG_DIR
from dis_seg.runs.predict_folder import UnreadableImages, predict
from dis_seg.runs.preflight import RUN_FAILED, reported_errors

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    with reported_errors(RUN_FAILED):
        result = predict(cfg)
    log.info(result.summary())
    if not result.unreadable:
        return
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        raise UnreadableImages(result.summary())
    raise SystemExit(RUN_FAILED)


if __name__ == "__main__":
    main()
