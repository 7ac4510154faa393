"""The VOC ``train_aug`` split from SBD's class annotations (``dis-seg-sbd --sbd DIR --voc
VOC2012 [--lists]``).

SBD (the Semantic Boundaries Dataset, ``benchmark_RELEASE/dataset``) ships its class
annotations as MATLAB files ``cls/<id>.mat``: a struct ``GTcls`` whose field ``Segmentation``
holds the H×W class ids (0 = background, 1..20 the VOC classes, no 255 borders), listed by
``train.txt`` (8,498 ids) and ``val.txt`` (2,857). Following the usual recipe (DeepLab's), this
writes under the ``VOC2012`` folder:

- ``SegmentationClassAug/<id>.png``: grayscale index PNGs for SBD train ∪ SBD val ∪ VOC
  train ∪ VOC val (12,031 ids): the VOC ``SegmentationClass`` indices (VOC's own finer masks,
  255 on object borders) for the VOC ids, SBD's ``Segmentation`` for the others;
- ``ImageSets/Segmentation/train_aug.txt``: (SBD train ∪ SBD val ∪ VOC train) minus VOC val,
  sorted: 10,582 ids, none of them in the VOC val split that the models are tested on.

``--lists`` writes only ``train_aug.txt`` (for a ``SegmentationClassAug`` obtained elsewhere).
Every mask is read back with :func:`~dis_seg.data.images.read_labelmap` against the size of
its ``JPEGImages/<id>.jpg``; the first problem stops the conversion with a
:class:`~dis_seg.data.DataError` naming the file. Reading ``.mat`` files needs scipy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from dis_seg.data.files import absence, read_text, require_paths
from dis_seg.data.images import read_labelmap, read_rgb
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.errors import DataError, MissingFileError

SBD_LAYOUT = """\
benchmark_RELEASE/dataset/
  cls/<id>.mat  (struct GTcls with field Segmentation)
  train.txt, val.txt"""
VOC_LAYOUT = """\
VOC2012/
  JPEGImages/<id>.jpg
  SegmentationClass/<id>.png
  ImageSets/Segmentation/train.txt, val.txt"""
SPLITS = Path("ImageSets") / "Segmentation"


def read_sbd_labelmap(path: Path) -> np.ndarray:
    """H×W uint8 class ids of an SBD ``cls/<id>.mat`` (``GTcls.Segmentation``)."""
    try:
        from scipy.io import loadmat
        from scipy.io.matlab import MatReadError
    except ImportError as error:
        raise ImportError(
            "reading SBD's .mat files needs scipy: pip install scipy (or the dev extra)"
        ) from error
    if not path.is_file():
        raise MissingFileError(f"{path} {absence(path)}")
    try:
        gt = loadmat(path, struct_as_record=False).get("GTcls")
    except (MatReadError, ValueError, OSError, TypeError, NotImplementedError) as error:
        raise DataError(
            f"{path}: unreadable MATLAB file ({error}); expected SBD's cls/<id>.mat"
        ) from None
    struct = gt.flat[0] if isinstance(gt, np.ndarray) and gt.size == 1 else None
    segmentation = getattr(struct, "Segmentation", None)
    if not (
        isinstance(segmentation, np.ndarray)
        and segmentation.ndim == 2
        and np.issubdtype(segmentation.dtype, np.integer)
    ):
        raise DataError(
            f"{path}: expected a struct GTcls whose field Segmentation is a 2-D integer array "
            "of class ids (SBD's cls/<id>.mat)"
        )
    if segmentation.size and (segmentation.min() < 0 or segmentation.max() > 255):
        raise DataError(f"{path}: Segmentation values outside 0..255 cannot be class ids")
    return segmentation.astype(np.uint8)


def _ids(path: Path) -> set[str]:
    return set(read_text(path).split())


def write_aug_mask(image_id: str, sbd: Path, voc: Path, from_voc: bool) -> Path:
    """Write ``SegmentationClassAug/<image_id>.png`` from VOC's mask or SBD's ``.mat``."""
    num_classes = len(VOC_CLASSES)
    size = read_rgb(voc / "JPEGImages" / f"{image_id}.jpg").shape[:2]
    if from_voc:
        source = voc / "SegmentationClass" / f"{image_id}.png"
        labelmap = read_labelmap(source, num_classes, size)
    else:
        source = sbd / "cls" / f"{image_id}.mat"
        labelmap = read_sbd_labelmap(source)
    path = voc / "SegmentationClassAug" / f"{image_id}.png"
    Image.fromarray(labelmap).save(path, format="PNG")
    try:
        read_labelmap(path, num_classes, size)
    except DataError as error:
        path.unlink()
        raise DataError(f"{source}: not a valid mask once converted: {error}") from None
    return path


def convert(sbd: Path, voc: Path, masks: bool = True, progress: bool | None = None) -> list[str]:
    """Write ``SegmentationClassAug`` (when ``masks``) and ``train_aug.txt`` under ``voc``;
    return the ``train_aug`` ids. ``progress`` None shows a progress bar on a terminal."""
    sbd, voc = Path(sbd), Path(voc)
    require_paths(sbd, ["train.txt", "val.txt", *(["cls"] if masks else [])], SBD_LAYOUT)
    lists = [str(SPLITS / "train.txt"), str(SPLITS / "val.txt")]
    require_paths(voc, ["JPEGImages", "SegmentationClass", *lists], VOC_LAYOUT)
    sbd_ids = _ids(sbd / "train.txt") | _ids(sbd / "val.txt")
    voc_train, voc_val = _ids(voc / SPLITS / "train.txt"), _ids(voc / SPLITS / "val.txt")
    if masks:
        (voc / "SegmentationClassAug").mkdir(exist_ok=True)
        disable = None if progress is None else not progress
        voc_ids = voc_train | voc_val
        for image_id in tqdm(
            sorted(sbd_ids | voc_ids), desc="SegmentationClassAug", unit="mask", disable=disable
        ):
            write_aug_mask(image_id, sbd, voc, from_voc=image_id in voc_ids)
    train_aug = sorted((sbd_ids | voc_train) - voc_val)
    (voc / SPLITS / "train_aug.txt").write_text("".join(f"{i}\n" for i in train_aug))
    return train_aug
