"""DIS: Dual Image Segmentation with PyTorch Lightning and Hydra."""

from importlib.resources import files
from pathlib import Path

from omegaconf import OmegaConf

CONFIG_DIR = str(Path(str(files(__name__) / "conf")).resolve())
"""The Hydra config folder that every entry point composes from: the package's ``conf``
resource, which is the repository's top-level ``conf/`` (linked from ``src/dis_seg/conf`` in a
checkout, copied into the wheel)."""


def _project_root() -> Path:
    """The checkout when the package runs from one (the folder of ``pyproject.toml`` above
    ``src/dis_seg``), else the working directory at import (an installed package)."""
    package = Path(__file__).resolve().parent
    checkout = package.parents[1]
    if package.parent.name == "src" and (checkout / "pyproject.toml").is_file():
        return checkout
    return Path.cwd()


PROJECT_ROOT = _project_root()
"""The default root of ``data/`` and ``outputs/`` (``paths.root_dir``): the checkout, whatever
the working directory, or for an installed package the working directory."""

OmegaConf.register_new_resolver("dis_seg.project_root", lambda: str(PROJECT_ROOT), replace=True)
