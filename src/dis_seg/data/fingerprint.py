"""Which data a result was computed on: the data folders and a fingerprint of the files that
decide the samples (split lists, tag annotations, the synthetic generator's parameters), so
that two runs on other data never pass for runs on the same data."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SPLITS = Path("ImageSets") / "Segmentation"
# the keys of a data config that name a VOC split list or an IDW annotation file
VOC_SPLIT_KEYS = ("train_split", "val_split", "test_split")
IDW_FILE_KEYS = ("idw_annotations", "idw_clean_tags", "idw_test_annotations")
GENERATOR_RECORD = "synthetic.json"


def sample_files(data: Mapping[str, Any]) -> list[Path]:
    """The files of data config ``data`` that decide its samples: the VOC split lists, the IDW
    annotation files and, for a synthetic data set, its ``synthetic.json`` (those that
    exist)."""
    files = []
    if data.get("voc_root"):
        voc = Path(data["voc_root"])
        files += [voc / SPLITS / f"{data[key]}.txt" for key in VOC_SPLIT_KEYS if data.get(key)]
        files.append(voc.parent / GENERATOR_RECORD)
    if data.get("idw_root"):
        idw = Path(data["idw_root"])
        files += [idw / data[key] for key in IDW_FILE_KEYS if data.get(key)]
    return [path for path in dict.fromkeys(files) if path.is_file()]


def data_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"voc_root", "idw_root", "fingerprint"}`` of data config ``data``: the folders, and
    the first 16 hex digits of the SHA-256 of the names and bytes of its sample files."""
    digest = hashlib.sha256()
    for path in sample_files(data):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {
        "voc_root": str(data.get("voc_root")),
        "idw_root": str(data.get("idw_root")),
        "fingerprint": digest.hexdigest()[:16],
    }
