"""What the synthetic data set must show, measured on a generated folder (``dis-seg-synthetic
--audit DIR``): five properties, each a figure and a threshold.

1. Recognition needs shape and context: a per-pixel colour lookup table (16 bins per channel,
   fitted on VOC train, majority class per bin) scores at most 35 % mIoU on VOC test.
2. The output grid does not cap the score: the ground truth area-pooled to the stride-8 grid
   (class fractions per cell), upsampled bilinearly and arg-maxed, scores at least 90 % mIoU
   on VOC test.
3. Two domains: logistic regression on per-image colour histograms (3 × 8 bins), fitted on half
   of VOC test and IDW test, tells the other half apart at least 90 % of the time.
4. Tags like descriptions: of the true tags of the tag-only images, at least 25 % of the small
   ones (:data:`.descriptions.SMALL`) and at most 10 % of the others are missed, at most 0.1
   false tags per image, and every description names exactly its tags.
5. Test sets that can show a point: at least 200 images in VOC test and in IDW test, each class
   present in both; image 0 of VOC test renders to the same bytes from ``synthetic.json`` and to
   other bytes from the next seed.

mIoU is the VOC protocol of :func:`dis_seg.models.metrics.segmentation_scores`: IoU averaged
over the classes present in the truth or the prediction, pixels labelled 255 ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dis_seg.data.idw import IDWTags, read_jsonl
from dis_seg.data.images import IGNORE_INDEX
from dis_seg.data.synthetic import image_rng, jpeg_bytes, render_image
from dis_seg.data.synthetic.descriptions import SMALL
from dis_seg.data.tags import VOC_CLASSES, tags_from_description
from dis_seg.data.voc import VOCSegmentation
from dis_seg.models.metrics import segmentation_scores

LUT_BINS, LUT_MAX = 16, 0.35
STRIDE, CEILING_MIN = 8, 0.90
HISTOGRAM_BINS, DOMAIN_MIN = 8, 0.90
SMALL_MISSED_MIN, LARGE_MISSED_MAX, FALSE_PER_IMAGE_MAX = 0.25, 0.10, 0.1
TEST_IMAGES_MIN = 200


@dataclass(frozen=True)
class Finding:
    """One audited property: its name, the measured figures in words, and whether it holds."""

    name: str
    figure: str
    met: bool


def miou(truth: Sequence[np.ndarray], prediction: Sequence[np.ndarray], num_classes: int) -> float:
    """VOC mIoU of labelmaps ``truth`` (H×W each, 255 ignored) against ``prediction``."""
    t = np.concatenate([a.ravel() for a in truth]).astype(np.int64)
    p = np.concatenate([a.ravel() for a in prediction]).astype(np.int64)
    keep = t != IGNORE_INDEX
    confusion = np.bincount(t[keep] * num_classes + p[keep], minlength=num_classes**2)
    confusion = torch.from_numpy(confusion.reshape(num_classes, num_classes))
    return float(segmentation_scores(confusion)["mIoU"])


def _colour_bins(image: np.ndarray, bins: int) -> np.ndarray:
    """H×W bin index in 0..bins³-1 of every pixel of an H×W×3 uint8 image."""
    q = image.astype(np.int64) * bins // 256
    return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]


def colour_lookup(
    images: Sequence[np.ndarray],
    labelmaps: Sequence[np.ndarray],
    num_classes: int,
    bins: int = LUT_BINS,
) -> np.ndarray:
    """bins³ table: the majority class of the labelled pixels of each colour bin (H×W×3 uint8
    ``images``, H×W ``labelmaps``); bins without pixels get the majority class overall."""
    counts = np.zeros((bins**3, num_classes), dtype=np.int64)
    for image, labelmap in zip(images, labelmaps, strict=True):
        keep = labelmap != IGNORE_INDEX
        np.add.at(counts, (_colour_bins(image, bins)[keep], labelmap[keep]), 1)
    table = counts.argmax(1)
    table[counts.sum(1) == 0] = counts.sum(0).argmax()
    return table


def lookup_predictions(table: np.ndarray, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """H×W class ids of every pixel of each H×W×3 uint8 image by its colour bin in ``table``."""
    bins = round(len(table) ** (1 / 3))
    return [table[_colour_bins(image, bins)] for image in images]


def pooled_truth(labelmap: np.ndarray, num_classes: int, stride: int = STRIDE) -> np.ndarray:
    """The best H×W labelmap a stride-``stride`` grid can give: class fractions of each cell
    (255 counted in none; the image zero-padded to a multiple of ``stride``), upsampled
    bilinearly to the padded size, arg-maxed, cropped."""
    height, width = labelmap.shape
    labels = torch.from_numpy(labelmap.astype(np.int64))
    one_hot = F.one_hot(labels.clamp(max=num_classes), num_classes + 1)[..., :num_classes]
    one_hot = one_hot.permute(2, 0, 1)[None].double()
    padded = (-(-height // stride) * stride, -(-width // stride) * stride)
    one_hot = F.pad(one_hot, (0, padded[1] - width, 0, padded[0] - height))
    fractions = F.avg_pool2d(one_hot, stride)
    up = F.interpolate(fractions, size=padded, mode="bilinear", align_corners=False)
    return up[0, :, :height, :width].argmax(0).numpy()


def colour_histograms(images: Sequence[np.ndarray], bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """N×(3·bins) per-channel colour histograms of H×W×3 uint8 images, each summing to 3."""
    rows = []
    for image in images:
        q = image.reshape(-1, 3).astype(np.int64) * bins // 256
        rows.append(np.concatenate([np.bincount(q[:, c], minlength=bins) for c in range(3)]))
    return np.asarray(rows, dtype=np.float64) / (images[0].shape[0] * images[0].shape[1])


def logistic_regression(
    features: np.ndarray, labels: np.ndarray, steps: int = 500, lr: float = 0.5, l2: float = 1e-3
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Weights (F), bias, feature mean and scale of a logistic regression of 0/1 ``labels`` (N)
    on standardised N×F ``features``, by full-batch gradient descent."""
    mean, scale = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / scale
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= lr * (x.T @ (p - labels) / len(x) + l2 * w)
        b -= lr * float((p - labels).mean())
    return w, b, mean, scale


def domain_accuracy(voc: np.ndarray, idw: np.ndarray) -> float:
    """Accuracy, on the odd-indexed rows, of :func:`logistic_regression` fitted on the
    even-indexed rows of feature matrices ``voc`` (label 0) and ``idw`` (label 1)."""
    features = np.concatenate([voc, idw])
    labels = np.concatenate([np.zeros(len(voc)), np.ones(len(idw))])
    order = np.arange(len(features))
    train = np.concatenate([order[: len(voc)][::2], order[len(voc) :][::2]])
    test = np.setdiff1d(order, train)
    w, b, mean, scale = logistic_regression(features[train], labels[train])
    predicted = ((features[test] - mean) / scale @ w + b) > 0
    return float((predicted == labels[test]).mean())


def tag_rates(
    noisy: Sequence[set[int]], clean: Sequence[set[int]], labelmaps: Sequence[np.ndarray]
) -> dict[str, float]:
    """Rates of the noisy tags against the true ones, per image: ``missed`` (of all true
    tags), ``missed_small`` and ``missed_large`` (of the true tags whose class covers less /
    at least :data:`SMALL` of the H×W ``labelmaps``) and ``false_per_image``."""
    missed = {"small": [0, 0], "large": [0, 0]}
    false = 0
    for tags, truth, labelmap in zip(noisy, clean, labelmaps, strict=True):
        pixels = np.bincount(labelmap.ravel(), minlength=256)
        for c in truth:
            kind = "small" if pixels[c] < SMALL * labelmap.size else "large"
            missed[kind][0] += c not in tags
            missed[kind][1] += 1
        false += len(tags - truth)
    total = [missed["small"][i] + missed["large"][i] for i in (0, 1)]
    return {
        "missed": total[0] / max(total[1], 1),
        "missed_small": missed["small"][0] / max(missed["small"][1], 1),
        "missed_large": missed["large"][0] / max(missed["large"][1], 1),
        "false_per_image": false / max(len(noisy), 1),
    }


def _ids(tags) -> set[int]:
    return {int(c) for c in tags.nonzero().flatten() if c != 0}


def _percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def audit(root: str | Path) -> list[Finding]:
    """The five properties (module docstring) of the synthetic data set in ``root``."""
    root = Path(root)
    params = json.loads((root / "synthetic.json").read_text())
    names = params["classes"] or list(VOC_CLASSES[1:])
    num_classes = len(VOC_CLASSES)
    train = list(VOCSegmentation(root / "VOC2012", "train"))
    test = list(VOCSegmentation(root / "VOC2012", "test"))
    idw_test = list(IDWTags(root / "IDW", "test_annotations.jsonl", labelmaps="labelmaps"))
    tag_only = list(
        IDWTags(root / "IDW", hidden_labelmaps="hidden_labelmaps", clean_tags="clean_tags.jsonl")
    )
    truth = [s["labelmap"] for s in test]
    findings = []

    table = colour_lookup([s["image"] for s in train], [s["labelmap"] for s in train], num_classes)
    lut = miou(truth, lookup_predictions(table, [s["image"] for s in test]), num_classes)
    figure = f"colour lookup VOC test mIoU {_percent(lut)} (at most {_percent(LUT_MAX)})"
    findings.append(Finding("recognition needs shape and context", figure, lut <= LUT_MAX))

    ceiling = miou(truth, [pooled_truth(t, num_classes) for t in truth], num_classes)
    figure = (
        f"stride-{STRIDE} pooled truth VOC test mIoU {_percent(ceiling)} "
        f"(at least {_percent(CEILING_MIN)})"
    )
    met = ceiling >= CEILING_MIN
    findings.append(Finding("the output grid does not cap the score", figure, met))

    accuracy = domain_accuracy(
        colour_histograms([s["image"] for s in test]),
        colour_histograms([s["image"] for s in idw_test]),
    )
    figure = (
        f"colour-histogram classifier tells IDW test from VOC test {_percent(accuracy)} "
        f"(at least {_percent(DOMAIN_MIN)})"
    )
    findings.append(Finding("two domains", figure, accuracy >= DOMAIN_MIN))

    rates = tag_rates(
        [_ids(s["tags"]) for s in tag_only],
        [_ids(s["clean_tags"]) for s in tag_only],
        [s["hidden_labelmap"] for s in tag_only],
    )
    records = [r for _, r in read_jsonl(root / "IDW" / "annotations.jsonl")]
    exact = sum(tags_from_description(r["description"]) == set(r["tags"]) for r in records)
    figure = (
        f"true tags missed {_percent(rates['missed'])}: small {_percent(rates['missed_small'])} "
        f"(at least {_percent(SMALL_MISSED_MIN)}), large {_percent(rates['missed_large'])} "
        f"(at most {_percent(LARGE_MISSED_MAX)}); false tags {rates['false_per_image']:.3f} per "
        f"image (at most {FALSE_PER_IMAGE_MAX}); descriptions naming exactly their tags "
        f"{exact}/{len(records)}"
    )
    met = (
        rates["missed_small"] >= SMALL_MISSED_MIN
        and rates["missed_large"] <= LARGE_MISSED_MAX
        and rates["false_per_image"] <= FALSE_PER_IMAGE_MAX
        and exact == len(records)
    )
    findings.append(Finding("tags like descriptions", figure, met))

    wanted = {VOC_CLASSES.index(n) for n in names}
    voc_classes = set().union(*(_ids(s["tags"]) for s in test)) & wanted
    idw_classes = set().union(*(_ids(s["tags"]) for s in idw_test)) & wanted
    on_disk = (root / "VOC2012" / "JPEGImages" / f"{test[0]['id']}.jpg").read_bytes()
    same, other = (
        jpeg_bytes(render_image(params["size"], names, "voc", image_rng(seed, "test", 0))[0], "voc")
        for seed in (params["seed"], params["seed"] + 1)
    )
    figure = (
        f"VOC test {len(test)}, IDW test {len(idw_test)} images (at least {TEST_IMAGES_MIN}); "
        f"classes present {len(voc_classes)}/{len(wanted)} and {len(idw_classes)}/{len(wanted)}; "
        f"image 0 of VOC test {'the same' if same == on_disk else 'NOT the same'} bytes from "
        f"seed {params['seed']}, {'other' if other != on_disk else 'the SAME'} bytes from seed "
        f"{params['seed'] + 1}"
    )
    met = (
        min(len(test), len(idw_test)) >= TEST_IMAGES_MIN
        and voc_classes == idw_classes == wanted
        and same == on_disk != other
    )
    findings.append(Finding("test sets that can show a point", figure, met))
    return findings


def format_findings(findings: Sequence[Finding]) -> str:
    """The findings as a numbered table: property, met / not met, figures."""
    width = max(len(f.name) for f in findings)
    lines = [f"{'property':<{width + 3}}  {'status':<7}  figures"]
    for number, f in enumerate(findings, start=1):
        status = "met" if f.met else "not met"
        lines.append(f"{number}. {f.name:<{width}}  {status:<7}  {f.figure}")
    return "\n".join(lines)
