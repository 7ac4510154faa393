"""``dis-seg-predict ckpt_path=... input_dir=... output_dir=... tts=N``: labelmaps for a folder
of images (:mod:`dis_seg.runs.predict_folder`; ``conf/predict.yaml``). One run at a time writes
into a folder: a run started while another holds ``output_dir`` is refused with exit status 2,
like a config the validation pass refuses. Exit status 1 when a file could not be read (an
image, a broken link; the others are written)."""

import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from dis_seg.errors import REFUSED, RUN_FAILED
from dis_seg.runs.app import hydra_app, reported_errors
from dis_seg.runs.predict_folder import UnreadableImages, predict
from dis_seg.runs.predict_manifest import one_run_at_a_time

log = logging.getLogger(__name__)


@hydra_app("predict")
def main(cfg: DictConfig) -> None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    # The lock refused exits with REFUSED; the errors of the run itself, inside it, RUN_FAILED.
    with reported_errors(REFUSED), one_run_at_a_time(output_dir), reported_errors(RUN_FAILED):
        result = predict(cfg)
    log.info(result.summary())
    if not result.unreadable:
        return
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        raise UnreadableImages(result.summary())
    raise SystemExit(RUN_FAILED)


if __name__ == "__main__":
    main()
