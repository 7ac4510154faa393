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

from dis_seg import CONFIG_DIR
from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.checkpoints import inference_step_size, load_module
from dis_seg.config_checks import check_evaluate_config, check_trainer
from dis_seg.run import test_metrics, write_metrics


def evaluate(cfg: DictConfig) -> dict:
    """Test ``cfg.ckpt_path`` with ``cfg.tts`` steps; return the contents of metrics.json."""
    check_evaluate_config(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data, _convert_="all")
    module, hparams = load_module(cfg.ckpt_path, num_classes=datamodule.num_classes)
    step_size = inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path)
    callback = IterativeInferenceCallback(
        tts=cfg.tts,
        step_size=step_size,
        schedule=cfg.schedule,
        method=cfg.inference.method,
        cuda_graphs=cfg.inference.cuda_graphs,
    )
    trainer = instantiate(cfg.trainer, callbacks=[callback], logger=False)
    check_trainer(cfg, trainer)
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
