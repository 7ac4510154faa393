"""dis-seg checkpoints: written atomically, read for the stage hand-off and for evaluation.

Lightning's own ``TorchCheckpointIO`` writes a temporary file in the system temp folder and moves
it into place, which becomes a copy (not atomic) when that folder lies on another file system,
as it does on most clusters; :class:`AtomicCheckpointIO` keeps the temporary file beside its
target, so a kill during a save never leaves a partial file as the only copy.

Reading tells a dis-seg checkpoint from a missing, empty, truncated, corrupt or foreign file
(:class:`CheckpointError`), and takes both of torch's formats: the zip archive (memory-mapped)
and the legacy one of ``torch.save(..., _use_new_zipfile_serialization=False)``.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from omegaconf import DictConfig

from dis_seg.errors import CheckpointError, ConfigError
from dis_seg.models import DISNet
from dis_seg.stages import DISModule

PREFIX = "model."
ZIP_MAGIC = b"PK\x03\x04"
# torch's legacy format starts with a pickled magic number (after the protocol opcode)
LEGACY_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)[2:-1]
# With zero steps of iterative inference the step size is never used; iterative inference
# takes a positive number all the same.
UNUSED_STEP_SIZE = 1.0

log = logging.getLogger(__name__)


def read_checkpoint(path: str | Path, key: str = "ckpt_path", remedy: str = "") -> dict[str, Any]:
    """The checkpoint at ``path`` (the value of config ``key``), loaded with
    ``weights_only=True``: a zip archive memory-mapped, the legacy format read whole.

    A missing file (message ending in ``remedy``), a folder, an empty, truncated or corrupt
    file, a file that is not PyTorch's, or one holding objects that ``weights_only`` refuses
    raises :class:`CheckpointError` naming ``key`` and ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{key}: {path} is a folder; expected a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{key}: {path} does not exist{remedy}")
    with path.open("rb") as file:
        head = file.read(64)
    if not head:
        raise CheckpointError(f"{key}: {path} is empty; expected a dis-seg checkpoint")
    if head.startswith(ZIP_MAGIC):
        _check_torch_archive(path, key)
    elif LEGACY_MAGIC not in head:
        raise CheckpointError(
            f"{key}: {path} is not a dis-seg checkpoint: not a PyTorch file (neither a zip "
            "archive nor torch's legacy format)"
        )
    truncated = CheckpointError(f"{key}: {path} is truncated (its data ends early)")
    try:
        return torch.load(
            path, map_location="cpu", weights_only=True, mmap=head.startswith(ZIP_MAGIC)
        )
    except EOFError:
        raise truncated from None
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{key}: {path} cannot be loaded with weights_only=True (it holds objects other "
            f"than tensors and plain values, or is corrupt): {_first_line(error)}"
        ) from error
    except (RuntimeError, OSError) as error:
        if "unexpected EOF" in str(error):
            raise truncated from None
        raise CheckpointError(f"{key}: {path} is corrupt: {_first_line(error)}") from error


def _check_torch_archive(path: Path, key: str) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a whole zip archive of torch's."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{key}: {path} is truncated (a zip archive without its end); expected a whole "
            "checkpoint, e.g. a last.ckpt that dis-seg-train wrote"
        )
    with zipfile.ZipFile(path) as archive:
        if not any(name.endswith("/data.pkl") for name in archive.namelist()):
            raise CheckpointError(
                f"{key}: {path} is not a dis-seg checkpoint: a zip archive, but not PyTorch's"
            )


def _first_line(error: Exception) -> str:
    """The first line of ``error``'s message, without terminal colour codes."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    return message.splitlines()[0] if message else type(error).__name__


def network_config(checkpoint: Any, path: str | Path, key: str = "ckpt_path") -> dict[str, Any]:
    """The :class:`DISNet` keyword arguments that ``checkpoint`` (read from ``path``, the value
    of config ``key``) was trained with; :class:`CheckpointError` for a file of other origin."""
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    model = hparams.get("model") if isinstance(hparams, dict) else None
    if not isinstance(model, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{key}: {path} is not a dis-seg checkpoint: a PyTorch file without the "
            "hyper_parameters.model and state_dict that dis-seg-train writes"
        )
    return model


def check_num_classes(
    checkpoint: dict[str, Any], path: str | Path, num_classes: int, key: str = "ckpt_path"
) -> None:
    """Raise :class:`ConfigError` naming ``model.num_classes`` unless the network of
    ``checkpoint`` (read from ``path``, the value of config ``key``) has ``num_classes``
    classes."""
    trained_classes = network_config(checkpoint, path, key).get("num_classes")
    if trained_classes != num_classes:
        raise ConfigError(
            f"model.num_classes: the checkpoint {path} was trained with {trained_classes} "
            f"classes but the data has {num_classes}"
        )


def load_network_weights(
    model: DISNet, checkpoint: dict[str, Any], path: str | Path, remedy: str, key: str
) -> None:
    """Copy the ``model.*`` weights of ``checkpoint`` into ``model``; an incompatible
    checkpoint raises :class:`CheckpointError` naming config ``key``, ``path``, the keys that
    differ and ``remedy``."""
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
        raise CheckpointError(
            f"{key}: {path} does not fit this network "
            f"(model.* config differs, e.g. backbone or num_classes): "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong_shape[:5]}; "
            f"{remedy}"
        )
    model.load_state_dict(state)


def init_from_remedy(stage: int) -> str:
    """What to do when stage ``stage`` finds no checkpoint of the stage before it."""
    previous = stage - 1
    return (
        f"run `make train-stage{previous}` first, "
        f"or point init_from=... at a stage-{previous} checkpoint"
    )


def read_previous_stage(path: str | Path, stage: int) -> dict[str, Any]:
    """The checkpoint of stage − 1 at ``path`` (``stages.s<stage>.init_from``) that ``stage``
    starts from; errors name the key, the file and the ``make`` target that writes it."""
    return read_checkpoint(
        path,
        f"stages.s{stage}.init_from",
        f": stage {stage} starts from stage {stage - 1}'s checkpoint; {init_from_remedy(stage)}",
    )


def load_previous_stage(model: DISNet, path: str | Path, stage: int) -> None:
    """Start ``stage`` from the network of stage − 1's checkpoint at ``path``."""
    checkpoint = read_previous_stage(path, stage)
    key = f"stages.s{stage}.init_from"
    check_num_classes(checkpoint, path, model.num_classes, key)
    load_network_weights(model, checkpoint, path, init_from_remedy(stage), key)


def resume_path(cfg: DictConfig) -> Path | None:
    """The checkpoint that ``ckpt_path`` of a training config resumes from, ``None`` for a
    fresh start.

    ``last`` is ``checkpoints.dir/last.ckpt`` when it exists; without it the stage starts
    afresh, so ``ckpt_path=last`` can be set on every (re)submission of a job.
    """
    if cfg.ckpt_path is None:
        return None
    if cfg.ckpt_path == "last":
        path = Path(cfg.checkpoints.dir) / "last.ckpt"
        if path.is_file():
            return path
        log.info("ckpt_path=last: no %s yet, the stage starts afresh", path)
        return None
    return Path(cfg.ckpt_path)


def load_module(
    path: str | Path, num_classes: int | None = None
) -> tuple[DISModule, dict[str, Any]]:
    """A :class:`DISModule` in eval mode holding the network of any stage's checkpoint, and the
    checkpoint's hyper-parameters (e.g. ``step_size`` of a stage-3 checkpoint).

    ``num_classes`` (the data's) must match the checkpoint's ``model.num_classes``.
    """
    checkpoint = read_checkpoint(path)
    model = network_config(checkpoint, path)
    if num_classes is not None:
        check_num_classes(checkpoint, path, num_classes)
    hparams = checkpoint["hyper_parameters"]
    module = DISModule(model=model, class_names=hparams.get("class_names"))
    remedy = "evaluate it with the same model config"
    load_network_weights(module.model, checkpoint, path, remedy, "ckpt_path")
    return module.eval(), hparams


def inference_step_size(
    configured: float | None, hparams: dict[str, Any], path: str | Path, steps: int
) -> float:
    """The step size of ``steps`` steps of iterative inference: ``configured`` when set, else
    the one that the checkpoint at ``path`` (hyper-parameters ``hparams``) was trained with;
    for zero steps without either, :data:`UNUSED_STEP_SIZE`."""
    recorded = hparams.get("step_size")
    return _inference_setting("step_size", configured, recorded, path, f"tts={steps}", steps)


def inference_tag_weight(
    configured: float | None, hparams: dict[str, Any], path: str | Path, ttr: int
) -> float:
    """The tag weight of ``ttr`` steps on tag-only images: ``configured`` when set, else the one
    that the checkpoint at ``path`` was trained with; for zero steps without either, unused."""
    recorded = hparams.get("inference_tag_weight")
    return _inference_setting("tag_weight", configured, recorded, path, f"ttr={ttr}", ttr)


def training_steps(configured: int | None, hparams: dict[str, Any], path: str | Path) -> int:
    """The ``ttr`` of tag cleaning: ``configured`` when set, else the one that the checkpoint at
    ``path`` was trained with (stage 3)."""
    value = configured if configured is not None else hparams.get("ttr")
    if value is None:
        raise ConfigError(
            f"ttr: {path} does not record the ttr it was trained with (only stage-3 "
            "checkpoints do), which cleaning the tags of tag-only images needs; set ttr=..."
        )
    return value


def _inference_setting(
    key: str, configured: float | None, recorded: float | None, path, needed_by: str, steps: int
) -> float:
    value = configured if configured is not None else recorded
    if value is not None:
        return value
    if steps == 0:
        return UNUSED_STEP_SIZE
    raise ConfigError(
        f"inference.{key}: {path} does not record the {key.replace('_', ' ')} of its "
        f"iterative inference (only stage-3 checkpoints do), which {needed_by} needs; set "
        f"inference.{key}=..."
    )


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
        self,
        path: str | Path,
        map_location: Any = None,
        weights_only: bool | None = None,  # noqa: ARG002
    ) -> dict[str, Any]:
        """The checkpoint at ``path``, always loaded with ``weights_only=True``."""
        return super().load_checkpoint(path, map_location=map_location or "cpu", weights_only=True)
