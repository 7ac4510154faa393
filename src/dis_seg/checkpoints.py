"""dis-seg checkpoints: written atomically, read for the stage hand-off and for evaluation.

Lightning's own ``TorchCheckpointIO`` writes a temporary file in the system temp folder and moves
it into place, which becomes a copy (not atomic) when that folder lies on another file system,
as it does on most clusters; :class:`AtomicCheckpointIO` keeps the temporary file beside its
target, so a kill during a save never leaves a partial file as the only copy.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from dis_seg.config_checks import ConfigError
from dis_seg.models import DISNet
from dis_seg.stages import DISModule

PREFIX = "model."


def read_checkpoint(path: str | Path, missing_message: str) -> dict[str, Any]:
    """A Lightning checkpoint loaded with ``weights_only=True`` (memory-mapped); a missing file
    raises ``FileNotFoundError(missing_message)``, an unreadable one a ``ValueError`` naming it."""
    if not Path(path).is_file():
        raise FileNotFoundError(missing_message)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(
            f"{path} is not a readable checkpoint (loaded with weights_only=True): {error}"
        ) from error


def network_config(checkpoint: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The :class:`DISNet` keyword arguments that ``checkpoint`` (read from ``path``) was
    trained with."""
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    model = hparams.get("model") if isinstance(hparams, dict) else None
    if not isinstance(model, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"{path} is not a dis-seg training checkpoint")
    return model


def check_num_classes(checkpoint: dict[str, Any], path: str | Path, num_classes: int) -> None:
    """Raise :class:`ConfigError` naming ``model.num_classes`` unless the network of
    ``checkpoint`` (read from ``path``) has ``num_classes`` classes."""
    trained_classes = network_config(checkpoint, path).get("num_classes")
    if trained_classes != num_classes:
        raise ConfigError(
            f"model.num_classes: the checkpoint {path} was trained with {trained_classes} "
            f"classes but the data has {num_classes}"
        )


def load_network_weights(
    model: DISNet, checkpoint: dict[str, Any], path: str | Path, remedy: str
) -> None:
    """Copy the ``model.*`` weights of ``checkpoint`` into ``model``; an incompatible
    checkpoint raises an error naming ``path``, the keys that differ and ``remedy``."""
    state = {
        key[len(PREFIX) :]: value
        for key, value in checkpoint.get("state_dict", {}).items()
        if key.startswith(PREFIX)
    }
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [
        f"{key} {tuple(state[key].shape)} (expected {tuple(value.shape)})"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    if missing or unexpected or wrong_shape:
        raise ValueError(
            f"checkpoint {path} does not fit this network "
            f"(model.* config differs, e.g. backbone or num_classes): "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong_shape[:5]}; "
            f"{remedy}"
        )
    model.load_state_dict(state)


def load_previous_stage(model: DISNet, path: str | Path, stage: int) -> None:
    """Start ``stage`` from the network of stage − 1's checkpoint at ``path``.

    Errors name the file and the ``make`` target that produces it.
    """
    previous = stage - 1
    remedy = (
        f"run `make train-stage{previous}` first, "
        f"or point init_from=... at a stage-{previous} checkpoint"
    )
    checkpoint = read_checkpoint(
        path,
        f"stage {stage} starts from stage {previous}'s checkpoint, "
        f"but {path} does not exist: {remedy}",
    )
    check_num_classes(checkpoint, path, model.num_classes)
    load_network_weights(model, checkpoint, path, remedy)


def load_module(
    path: str | Path, num_classes: int | None = None
) -> tuple[DISModule, dict[str, Any]]:
    """A :class:`DISModule` in eval mode holding the network of any stage's checkpoint, and the
    checkpoint's hyper-parameters (e.g. ``step_size`` of a stage-3 checkpoint).

    ``num_classes`` (the data's) must match the checkpoint's ``model.num_classes``.
    """
    checkpoint = read_checkpoint(path, f"ckpt_path: no checkpoint at {path}")
    model = network_config(checkpoint, path)
    if num_classes is not None:
        check_num_classes(checkpoint, path, num_classes)
    hparams = checkpoint["hyper_parameters"]
    module = DISModule(model=model, class_names=hparams.get("class_names"))
    load_network_weights(module.model, checkpoint, path, "evaluate it with the same model config")
    return module.eval(), hparams


def inference_step_size(
    configured: float | None, hparams: dict[str, Any], path: str | Path
) -> float:
    """The step size of iterative inference: ``configured`` when set, else the one that the
    checkpoint at ``path`` (hyper-parameters ``hparams``) was trained with."""
    step_size = configured or hparams.get("step_size")
    if step_size is None:
        raise ValueError(
            f"inference.step_size: {path} does not record the step size of its "
            "iterative inference (only stage-3 checkpoints do); set inference.step_size=..."
        )
    return step_size


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to ``.<name>.partial`` in the target's folder, flushes it to disk and renames it
    over the target (``os.replace``); loads with ``weights_only=True``. Local paths only."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """The checkpoint at ``path``, always loaded with ``weights_only=True``."""
        return super().load_checkpoint(path, map_location=map_location or "cpu", weights_only=True)
