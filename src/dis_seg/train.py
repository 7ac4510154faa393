"""``python -m dis_seg.train stage=1|2|3 [overrides]``: train one DIS stage, then test it.

Writes ``metrics.json`` (stage, ttr, tts, the test metrics and, for stage 3, the pseudo-label
and tag-cleaning statistics of the last epoch) in the run's output folder.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from dis_seg.checkpoints import load_previous_stage
from dis_seg.run import build_callbacks, build_loggers, finish_loggers, test_metrics, write_metrics

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def train(cfg: DictConfig) -> dict:
    """Fit the configured stage and test it; return the contents of metrics.json."""
    if cfg.stage not in (1, 2, 3):
        raise ValueError(f"stage: expected 1, 2 or 3, got {cfg.stage!r}")
    stage = cfg.stage_config
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data, _convert_="all")
    module = instantiate(stage.module, _convert_="all")
    if stage.init_from and not cfg.ckpt_path:
        load_previous_stage(module.model, stage.init_from, cfg.stage)
    loggers = build_loggers(cfg)
    trainer = instantiate(
        cfg.trainer, callbacks=build_callbacks(cfg, bool(loggers)), logger=loggers or False
    )
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
        training = {
            name: float(value)
            for name, value in trainer.callback_metrics.items()
            if name.startswith(("pseudo/", "tags/"))
        }
        trainer.test(module, datamodule=datamodule)
        metrics = {
            "stage": cfg.stage,
            "ttr": cfg.ttr if cfg.stage == 3 else 0,
            "tts": stage.test_tts,
            **test_metrics(trainer),
        }
        if training:
            metrics["training"] = training
        if trainer.is_global_zero:
            write_metrics(Path(HydraConfig.get().runtime.output_dir) / "metrics.json", metrics)
        return metrics
    finally:
        finish_loggers(loggers)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
