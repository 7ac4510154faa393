"""DIS: Dual Image Segmentation with PyTorch Lightning and Hydra."""

from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The project folder, which holds ``conf/`` and ``pyproject.toml``: the default root of
``data/`` and ``outputs/`` (``paths.root_dir``), whatever the working directory."""

CONFIG_DIR = str(PROJECT_ROOT / "conf")
"""The Hydra config folder ``conf/`` that every entry point composes from."""

OmegaConf.register_new_resolver("dis_seg.project_root", lambda: str(PROJECT_ROOT), replace=True)
