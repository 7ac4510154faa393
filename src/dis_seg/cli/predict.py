"""``dis-seg-predict ckpt_path=... input_dir=... output_dir=... tts=N``: labelmaps for a folder
of images (:mod:`dis_seg.runs.predict_folder`; ``conf/predict.yaml``). Exit status 1 when an
image could not be read (the others are written)."""

import logging

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from dis_seg.errors import RUN_FAILED
from dis_seg.runs.app import hydra_app, reported_errors
from dis_seg.runs.predict_folder import UnreadableImages, predict

log = logging.getLogger(__name__)


@hydra_app("predict")
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
