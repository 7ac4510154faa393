"""Labelmaps for a folder of images: what ``dis-seg-predict ckpt_path=... input_dir=...
output_dir=... tts=N`` runs.

Every image of ``input_dir`` (not its subfolders) goes through the network and ``tts`` steps of
iterative inference one at a time, padded to a multiple of the output stride as in evaluation
and cropped back. Writes into the run folder (``output_dir``; ``output_dir/tts{N}`` per job
under ``-m``):

- ``<stem>.png``: the labelmap at the image's original size, a palette PNG with the VOC colours;
- ``overlays/<stem>.png`` (``overlays=true``): the image with its labelled pixels tinted;
- ``tags.json`` (``tags_json=true``): per image file name, the refined tag scores
  ``sigmoid(v3)`` after the ``tts`` steps, by class name;
- ``predict_manifest.jsonl``: one line per file it wrote, added as each is written
  (:mod:`dis_seg.runs.predict_manifest`): a later run replaces those files with
  ``overwrite=true``, and never any other file.

It never writes over a file that it did not write itself, in this run or an earlier run into
the same folder; the manifest lists exactly the files written, also when the run is stopped
(SIGINT, SIGTERM); and ``dis-seg-predict`` refuses to start while another run writes into the
folder. Files whose suffix is not an image format, images that cannot be read, broken symbolic
links and link loops are skipped with a warning naming them; the run ends with the line
``wrote N labelmaps (M overlays) to DIR; K files skipped: ...`` and, when a file other than a
non-image was skipped, exit status 1.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from PIL import Image
from tqdm import tqdm

from dis_seg import inference
from dis_seg.data.collate import collate_samples
from dis_seg.data.images import read_rgb, voc_palette, write_labelmap
from dis_seg.data.samples import make_sample
from dis_seg.data.transforms import eval_transform
from dis_seg.errors import DataError
from dis_seg.inference import StepOptions
from dis_seg.inference.options import DEFAULT_STEPS
from dis_seg.models import DISNet
from dis_seg.runs.checkpoints import inference_step_size, load_module
from dis_seg.runs.predict_manifest import (
    IMAGE_SUFFIXES,
    OVERLAYS,
    TAGS_JSON,
    Manifest,
    plan_outputs,
    tag_names,
)
from dis_seg.runs.schema import validate

log = logging.getLogger(__name__)

NOT_AN_IMAGE = "not an image"
UNREADABLE = "unreadable"


class UnreadableImages(CompactHydraException):
    """A multirun job skipped files it could not read: raised once it has written the rest, so
    that Hydra runs the other jobs, then exits with status 1 and this one-line message."""


@dataclass
class FolderPrediction:
    """What :func:`predict_folder` wrote into ``output_dir``, and the files it skipped with the
    reason: :data:`NOT_AN_IMAGE`, :data:`UNREADABLE`, or why a link leads nowhere
    (:data:`~dis_seg.runs.predict_manifest.BROKEN_LINK`, ``LINK_LOOP``)."""

    output_dir: Path
    labelmaps: list[Path] = field(default_factory=list)
    overlays: int = 0
    skipped: dict[Path, str] = field(default_factory=dict)

    @property
    def unreadable(self) -> list[Path]:
        """The files that could not be read: images, and links that lead nowhere."""
        return [path for path, why in self.skipped.items() if why != NOT_AN_IMAGE]

    def summary(self) -> str:
        """``wrote N labelmaps (M overlays) to DIR[; K files skipped: a (why), ...]``."""
        line = (
            f"wrote {len(self.labelmaps)} labelmaps ({self.overlays} overlays) to {self.output_dir}"
        )
        if not self.skipped:
            return line
        files = ", ".join(f"{path.name} ({why})" for path, why in self.skipped.items())
        count = len(self.skipped)
        return f"{line}; {count} file{'s' if count > 1 else ''} skipped: {files}"


@torch.inference_mode()
def predict_image(
    model: DISNet,
    image: np.ndarray,
    tts: int,
    step_size: float,
    options: StepOptions = DEFAULT_STEPS,
) -> tuple[np.ndarray, torch.Tensor]:
    """The labelmap H×W uint8 and refined tag scores C of one H×W×3 uint8 RGB image.

    The image is normalised and padded (bottom, right) to a multiple of the output stride like
    an evaluation batch of one; the labelmap logits after ``tts`` steps are upsampled to the
    padded size and cropped back to H×W. ``options``: how the steps are taken
    (:class:`~dis_seg.inference.StepOptions`).
    """
    device = next(model.parameters()).device
    sample = make_sample("", image, torch.zeros(model.num_classes))
    batch = collate_samples([eval_transform()(sample)], model.backbone.output_stride)
    prediction = inference.predict(
        model,
        batch["image"].to(device),
        steps=tts,
        step_size=step_size,
        options=options,
    )
    height, width = image.shape[:2]
    labelmap = prediction.labelmap()[0, :height, :width]
    return labelmap.byte().cpu().numpy(), prediction.tag_scores()[0].cpu()


def overlay(image: np.ndarray, labelmap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """H×W×3 uint8: ``image`` with every non-background pixel of ``labelmap`` (H×W) blended
    with its VOC colour at opacity ``alpha``."""
    colours = voc_palette()[labelmap].astype(np.float32)
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colours
    return np.where(labelmap[..., None] > 0, blended.round(), image).astype(np.uint8)


def predict_folder(
    model: DISNet,
    input_dir: Path,
    output_dir: Path,
    *,
    tts: int,
    step_size: float,
    class_names: Sequence[str],
    overlays: bool = False,
    overlay_alpha: float = 0.5,
    tags_json: bool = False,
    overwrite: bool = False,
    options: StepOptions = DEFAULT_STEPS,
) -> FolderPrediction:
    """Write the labelmap of every image of ``input_dir`` (and the optional overlays and
    ``tags.json``) into ``output_dir``, each listed in its manifest once written, replacing
    earlier predictions only with ``overwrite``
    (:func:`~dis_seg.runs.predict_manifest.check_outputs`). ``options``: how the steps are taken
    (:class:`~dis_seg.inference.StepOptions`)."""
    found, _ = plan_outputs(
        input_dir, output_dir, overlays=overlays, tags_json=tags_json, overwrite=overwrite
    )
    manifest = Manifest(output_dir)
    result = FolderPrediction(output_dir)
    for path in found.others:
        log.warning("skipping %s: not an image (expected one of %s)", path, IMAGE_SUFFIXES)
        result.skipped[path] = NOT_AN_IMAGE
    for path, why in found.dead_links.items():
        log.warning("skipping %s: %s", path, why)
        result.skipped[path] = why
    tags = {}
    for path in tqdm(found.images, desc="predict", unit="image"):
        try:
            image = read_rgb(path)
        except DataError as error:
            log.warning("skipping %s", error)
            result.skipped[path] = UNREADABLE
            continue
        labelmap, scores = predict_image(model, image, tts, step_size, options)
        name = f"{path.stem}.png"
        result.labelmaps.append(manifest.write(name, partial(write_labelmap, labelmap=labelmap)))
        if overlays:
            tinted = Image.fromarray(overlay(image, labelmap, overlay_alpha))
            manifest.write(f"{OVERLAYS}/{name}", tinted.save)
            result.overlays += 1
        if tags_json:
            tags[path.name] = dict(zip(class_names, scores.tolist(), strict=True))
    if tags_json:
        manifest.write(TAGS_JSON, lambda path: path.write_text(json.dumps(tags, indent=2) + "\n"))
    return result


def torch_device(name: str) -> torch.device:
    """The device of config ``device``: ``auto`` is CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def predict(cfg: DictConfig) -> FolderPrediction:
    """Predict ``cfg.input_dir`` with ``cfg.ckpt_path`` into the run folder (module docstring)."""
    validate(cfg, "predict")
    module, hparams = load_module(cfg.ckpt_path)
    step_size = inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path, cfg.tts)
    class_names = tag_names(cfg.class_names, module.class_names, module.num_classes)
    run = HydraConfig.get()
    if run.mode == RunMode.MULTIRUN:  # written by Hydra before the job
        Manifest(Path(run.sweep.dir)).record("multirun.yaml")
    return predict_folder(
        module.model.to(torch_device(cfg.device)),
        Path(cfg.input_dir),
        Path(run.runtime.output_dir),
        tts=cfg.tts,
        step_size=step_size,
        class_names=class_names,
        overlays=cfg.overlays,
        overlay_alpha=cfg.overlay_alpha,
        tags_json=cfg.tags_json,
        overwrite=cfg.overwrite,
        options=StepOptions.from_config(cfg.inference),
    )
