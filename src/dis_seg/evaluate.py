"""``python -m dis_seg.evaluate ckpt_path=... tts=N [data=...]``: test-time evaluation only.

Runs the test split through the network and :class:`IterativeInferenceCallback` (one pass
gives every scheduled t ≤ tts) and writes ``metrics.json`` in the run folder.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.checkpoints import load_module
from dis_seg.run import test_metrics, write_metrics
from dis_seg.train import CONFIG_DIR


def evaluate(cfg: DictConfig) -> dict:
    """Test ``cfg.ckpt_path`` with ``cfg.tts`` steps; return the contents of metrics.json."""
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data, _convert_="all")
    module, hparams = load_module(cfg.ckpt_path, num_classes=datamodule.num_classes)
    step_size = cfg.inference.step_size or hparams.get("step_size")
    if step_size is None:
        raise ValueError(
            f"inference.step_size: {cfg.ckpt_path} does not record the step size of its "
            "iterative inference (only stage-3 checkpoints do); set inference.step_size=..."
        )
    callback = IterativeInferenceCallback(tts=cfg.tts, step_size=step_size, schedule=cfg.schedule)
    trainer = instantiate(cfg.trainer, callbacks=[callback], logger=False)
    trainer.test(module, datamodule=datamodule)
    metrics = {"ckpt_path": str(cfg.ckpt_path), "tts": cfg.tts, **test_metrics(trainer)}
    if trainer.is_global_zero:
        write_metrics(Path(HydraConfig.get().runtime.output_dir) / "metrics.json", metrics)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
