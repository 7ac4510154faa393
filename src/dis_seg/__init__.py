"""DIS: Dual Image Segmentation with PyTorch Lightning and Hydra."""

from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")
"""The Hydra config folder ``conf/`` that every entry point composes from."""
