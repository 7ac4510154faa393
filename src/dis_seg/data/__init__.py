"""Data: VOC and IDW readers, a synthetic data set in both formats, and DISDataModule.

``DISDataModule`` (which imports Lightning) is loaded on first access, so the readers and
``dis-seg-synthetic`` start quickly.
"""

from typing import TYPE_CHECKING

from dis_seg.data.idw import IDWTags
from dis_seg.data.tags import VOC_CLASSES, tags_from_description
from dis_seg.data.voc import VOCSegmentation
from dis_seg.errors import DataError

if TYPE_CHECKING:
    from dis_seg.data.datamodule import DISDataModule

__all__ = [
    "VOC_CLASSES",
    "DISDataModule",
    "DataError",
    "IDWTags",
    "VOCSegmentation",
    "tags_from_description",
]


def __getattr__(name: str):
    if name == "DISDataModule":
        from dis_seg.data.datamodule import DISDataModule

        return DISDataModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
