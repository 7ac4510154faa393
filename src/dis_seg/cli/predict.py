"""``dis-seg-predict ckpt_path=... input_dir=... output_dir=... tts=N``: labelmaps for a
folder of images.

Every image of ``input_dir`` (not its subfolders) goes through the network and ``tts`` steps of
iterative inference one at a time, padded to a multiple of the output stride as in evaluation
and cropped back. Writes into the run folder (``output_dir``; ``output_dir/tts{N}`` per job
under ``-m``):

- ``<stem>.png``: the labelmap at the image's original size, a palette PNG with the VOC colours;
- ``overlays/<stem>.png`` (``overlays=true``): the image with its labelled pixels tinted;
- ``tags.json`` (``tags_json=true``): per image file name, the refined tag scores
  ``sigmoid(v3)`` after the ``tts`` steps, by class name.

Files whose suffix is not an image format are skipped with a warning; an unreadable image
raises :class:`~dis_seg.data.DataError` naming the file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from PIL import Image
from tqdm import tqdm

from dis_seg import CONFIG_DIR, inference
from dis_seg.checkpoints import inference_step_size, load_module
from dis_seg.data import VOC_CLASSES
from dis_seg.data.collate import collate_samples
from dis_seg.data.images import read_rgb, voc_palette, write_labelmap
from dis_seg.data.samples import make_sample
from dis_seg.data.transforms import eval_transform
from dis_seg.models import DISNet

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def list_images(input_dir: Path) -> list[Path]:
    """The image files of ``input_dir`` sorted by name; other files are skipped with a warning.

    Two images with the same stem (``a.jpg``, ``a.png``) would write the same ``a.png``: error.
    """
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input_dir: {input_dir} is not a folder")
    images: dict[str, Path] = {}
    for path in sorted(p for p in input_dir.iterdir() if p.is_file()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            log.warning("skipping %s: not an image (expected one of %s)", path, IMAGE_SUFFIXES)
        elif path.stem in images:
            raise ValueError(
                f"input_dir: {images[path.stem]} and {path} would both be written as "
                f"{path.stem}.png; rename one of them"
            )
        else:
            images[path.stem] = path
    if not images:
        raise FileNotFoundError(f"input_dir: no images in {input_dir} (suffixes {IMAGE_SUFFIXES})")
    return list(images.values())


@torch.inference_mode()
def predict_image(
    model: DISNet,
    image: np.ndarray,
    tts: int,
    step_size: float,
    method: str = "auto",
    cuda_graphs: bool = True,
) -> tuple[np.ndarray, torch.Tensor]:
    """The labelmap H×W uint8 and refined tag scores C of one H×W×3 uint8 RGB image.

    The image is normalised and padded (bottom, right) to a multiple of the output stride like
    an evaluation batch of one; the labelmap logits after ``tts`` steps are upsampled to the
    padded size and cropped back to H×W. ``method`` and ``cuda_graphs`` are those of
    :func:`~dis_seg.inference.iterative_inference`.
    """
    device = next(model.parameters()).device
    sample = make_sample("", image, torch.zeros(model.num_classes))
    batch = collate_samples([eval_transform()(sample)], model.backbone.output_stride)
    prediction = inference.predict(
        model,
        batch["image"].to(device),
        steps=tts,
        step_size=step_size,
        method=method,
        cuda_graphs=cuda_graphs,
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
    method: str = "auto",
    cuda_graphs: bool = True,
) -> list[Path]:
    """Write the labelmap of every image of ``input_dir`` (and the optional overlays and
    ``tags.json``) into ``output_dir``; return the labelmap paths. ``method`` and
    ``cuda_graphs``: see :func:`predict_image`."""
    images = list_images(input_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if overlays:
        (output_dir / "overlays").mkdir(exist_ok=True)
    written, tags = [], {}
    for path in tqdm(images, desc="predict", unit="image"):
        image = read_rgb(path)
        labelmap, scores = predict_image(model, image, tts, step_size, method, cuda_graphs)
        target = output_dir / f"{path.stem}.png"
        write_labelmap(target, labelmap)
        written.append(target)
        if overlays:
            tinted = overlay(image, labelmap, overlay_alpha)
            Image.fromarray(tinted).save(output_dir / "overlays" / f"{path.stem}.png")
        if tags_json:
            tags[path.name] = dict(zip(class_names, scores.tolist(), strict=True))
    if tags_json:
        (output_dir / "tags.json").write_text(json.dumps(tags, indent=2) + "\n")
    return written


def default_class_names(num_classes: int) -> list[str]:
    """VOC's class names for 21 classes, else the class ids as strings."""
    if num_classes == len(VOC_CLASSES):
        return list(VOC_CLASSES)
    return [str(index) for index in range(num_classes)]


def predict(cfg: DictConfig) -> list[Path]:
    """Predict ``cfg.input_dir`` with ``cfg.ckpt_path`` into the run folder (module docstring)."""
    module, hparams = load_module(cfg.ckpt_path)
    step_size = inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path)
    class_names = cfg.class_names or module.class_names or default_class_names(module.num_classes)
    if len(class_names) != module.num_classes:
        raise ValueError(
            f"class_names: {len(class_names)} names for the checkpoint's "
            f"{module.num_classes} classes"
        )
    device = cfg.device if cfg.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    return predict_folder(
        module.model.to(device),
        Path(cfg.input_dir),
        Path(HydraConfig.get().runtime.output_dir),
        tts=cfg.tts,
        step_size=step_size,
        class_names=list(class_names),
        overlays=cfg.overlays,
        overlay_alpha=cfg.overlay_alpha,
        tags_json=cfg.tags_json,
        method=cfg.inference.method,
        cuda_graphs=cfg.inference.cuda_graphs,
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    predict(cfg)


if __name__ == "__main__":
    main()
