"""DISDataModule: labelled (VOC-format) and tag-only (IDW-format) data for the three DIS stages.

Training batches mix ``labelled_per_batch`` labelled samples (listed first) with
``batch_size - labelled_per_batch`` tag-only samples (see :mod:`dis_seg.data.mixing`); an
epoch visits every labelled image once and the tag-only images cycle. Without tag-only data,
or with ``labelled_per_batch == batch_size``, batches are plain shuffled labelled batches (the
last one of an epoch completed from the start of its order).
The labelled images are ``train_split``, or part of it: the published list ``partition``
(:mod:`dis_seg.data.partitions`), or the fraction ``labelled_fraction`` < 1 (chosen by
``seed``). With ``tag_only_rest`` the rest of ``train_split`` joins the tag-only samples with
their labelmap-derived tags, noised by ``tag_noise`` (:mod:`dis_seg.data.tag_noise`); their
labelmaps and true tags stay available as ``hidden_labelmap`` and ``clean_tags``.

Batches are dicts (see :mod:`dis_seg.data.collate`): ``image`` B×3×H×W float, ``labelmap``
B×H×W long (255 = ignore), ``tags`` B×C float, ``has_labelmap`` B bool, ``id`` list[str],
``orig_size`` B×2 long, and the hidden ground truth ``hidden_labelmap`` B×H×W long,
``clean_tags`` B×C float, ``has_hidden`` B bool. Training images are ``crop_size`` crops;
evaluation batches keep each image at its original size, padded to a multiple of
``output_stride``; crop predictions back with ``orig_size``.

The test loaders are VOC ``test_split`` and, when ``idw_test_annotations`` is set, the
labelled IDW test split, named ``voc`` and ``idw`` in ``test_names`` (one loader, or a list
of two; metrics are logged per name). Without
``val_split`` there is no validation loader.

The training loader is a torchdata ``StatefulDataLoader``, whose state holds its sampler's
position (the workers' prefetching included). :meth:`state_dict` returns that state, which
Lightning stores in every checkpoint, and after :meth:`load_state_dict` the next
:meth:`train_dataloader` starts there: a run resumed from a checkpoint, mid-epoch or at an
epoch's end, draws the batches of an uninterrupted run. (Lightning's own restore of the loader
state does not serve: it skips epoch-end checkpoints, and it only reaches a loader built after
the checkpoint is loaded, while the LR schedule's ``trainer.estimated_stepping_batches`` builds
it before.) With another ``num_workers`` than the checkpoint's, the module warns and the
resumed epoch's order is not restored. Augmentation draws are not restored either (checkpoints
do not hold their random generators): after a resume the same images get other crops, flips
and colours.

Under DDP, Lightning shards the training batches across ranks (:mod:`dis_seg.data.mixing`).
The loader's position is then neither saved nor restored: a resumed epoch runs in the first
epoch's order (after a mid-epoch checkpoint only its remaining number of batches), and the
epochs after it are exact. The evaluation loaders shard their split themselves so that each
sample is evaluated exactly once (Lightning's default sampler would repeat samples to give
every rank as many), and the metrics match one process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset
from torchdata.stateful_dataloader import StatefulDataLoader

from dis_seg.data.collate import collate_samples
from dis_seg.data.idw import IDWTags
from dis_seg.data.mixing import MixedBatchSampler, MixedDataset
from dis_seg.data.partitions import check_partition, split_by_partition
from dis_seg.data.samples import HiddenLabelmaps, Transformed
from dis_seg.data.synthetic import ensure_generated
from dis_seg.data.tag_noise import TagNoise
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.data.transforms import eval_transform, train_transform
from dis_seg.data.voc import VOCSegmentation
from dis_seg.errors import DataError

log = logging.getLogger(__name__)


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def split_by_fraction(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``0..count-1`` split at random (fixed by ``seed``) into kept (≥ 1) and the rest."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    kept = max(1, round(fraction * count))
    return sorted(order[:kept]), sorted(order[kept:])


def has_clean_tags(data: Mapping[str, Any]) -> bool:
    """Whether some tag-only training images of data config ``data`` carry clean tags, so that
    tag cleaning can be measured: IDW images with ``idw_clean_tags``, or the labelled images
    served tag-only (``partition`` or ``labelled_fraction`` < 1, with ``tag_only_rest``)."""
    idw = bool(data.get("idw_root") and data.get("idw_clean_tags"))
    demoted = data.get("partition") is not None or data.get("labelled_fraction", 1.0) < 1
    return idw or bool(demoted and data.get("tag_only_rest", True))


class DISDataModule(pl.LightningDataModule):
    """Mixed labelled / tag-only training data and labelled val/test data (module docstring).

    Paths: ``voc_root`` is a ``VOC2012`` folder, ``idw_root`` an IDW folder; the ``idw_*``
    file and folder names are relative to ``idw_root``. ``synthetic`` holds the keyword
    arguments of :func:`dis_seg.data.synthetic.generate` (``out`` included); with
    ``generate_if_missing`` the data set is (re)generated there in :meth:`prepare_data` unless
    it already exists with those parameters.
    """

    def __init__(
        self,
        voc_root: str | Path | None = None,
        train_split: str = "train",
        val_split: str | None = "val",
        test_split: str | None = "val",
        idw_root: str | Path | None = None,
        idw_annotations: str = "annotations.jsonl",
        idw_images: str = "images",
        idw_hidden_labelmaps: str | None = None,
        idw_clean_tags: str | None = None,
        idw_test_annotations: str | None = None,
        idw_test_labelmaps: str | None = None,
        batch_size: int = 8,
        labelled_per_batch: int = 4,
        labelled_fraction: float = 1.0,
        partition: str | int | None = None,
        tag_only_rest: bool = True,
        tag_noise: Mapping | None = None,
        eval_batch_size: int = 1,
        crop_size: int = 321,
        scale_range: Sequence[float] = (0.5, 1.5),
        hflip_prob: float = 0.5,
        colour_jitter: float = 0.2,
        output_stride: int = 8,
        num_classes: int = 21,
        class_names: Sequence[str] | None = None,
        seed: int = 0,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        generate_if_missing: bool = False,
        synthetic: Mapping | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.class_names = tuple(class_names or VOC_CLASSES)
        self.num_classes = num_classes
        self.partition = check_partition(partition, train_split, labelled_fraction)
        self.tag_noise = TagNoise.from_config(tag_noise or {}, seed)
        self.test_names: list[str] = []
        self.labelled_set: Dataset | None = None
        self.tag_only_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_sets: list[Dataset] = []
        self._train_loader_state: dict | None = None

    def prepare_data(self) -> None:
        if self.hparams.generate_if_missing:
            ensure_generated(**self.hparams.synthetic)

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        if stage in (None, "fit"):
            self._setup_train()
        if stage in (None, "fit", "validate") and hp.val_split:
            self.val_set = self._voc(hp.val_split, eval_transform())
        if stage in (None, "test"):
            self.test_sets, self.test_names = [], []
            if hp.test_split:
                self.test_sets.append(self._voc(hp.test_split, eval_transform()))
                self.test_names.append("voc")
            if hp.idw_test_annotations:
                self.test_sets.append(
                    self._idw(hp.idw_test_annotations, eval_transform(), hp.idw_test_labelmaps)
                )
                self.test_names.append("idw")

    def _voc(self, split: str, transform=None) -> VOCSegmentation:
        if self.hparams.voc_root is None:
            raise DataError("no labelled data: set voc_root to a VOC2012 folder")
        return VOCSegmentation(self.hparams.voc_root, split, transform, self.class_names)

    def _idw(self, annotations: str, transform, labelmaps: str | None = None, **hidden) -> IDWTags:
        return IDWTags(
            self.hparams.idw_root,
            annotations,
            self.hparams.idw_images,
            labelmaps=labelmaps,
            transform=transform,
            class_names=self.class_names,
            **hidden,
        )

    def _setup_train(self) -> None:
        hp = self.hparams
        transform = train_transform(
            hp.crop_size, tuple(hp.scale_range), hp.hflip_prob, hp.colour_jitter
        )
        self.labelled_set, tag_only = self._training_sets(transform)
        self.tag_only_set = ConcatDataset(tag_only) if tag_only else None

    def _training_sets(self, transform) -> tuple[Dataset, list[Dataset]]:
        """The labelled training images and the tag-only ones (IDW's, then the rest of
        ``train_split``), each through ``transform``."""
        hp = self.hparams
        labelled = self._voc(hp.train_split)
        if self.partition is None:
            kept, rest = split_by_fraction(len(labelled), hp.labelled_fraction, hp.seed)
        else:
            kept, rest = split_by_partition(labelled.ids, self.partition, labelled.list_file)
        tag_only = self._idw_tag_only(transform)
        if rest and hp.tag_only_rest:
            noise = None if self.tag_noise.is_off else self.tag_noise
            tag_only.append(Transformed(HiddenLabelmaps(Subset(labelled, rest), noise), transform))
        return Subset(Transformed(labelled, transform), kept), tag_only

    def _idw_tag_only(self, transform) -> list[Dataset]:
        """The IDW tag-only images through ``transform`` (none without ``idw_root`` or
        ``idw_annotations``)."""
        hp = self.hparams
        if not (hp.idw_root and hp.idw_annotations):
            return []
        return [
            self._idw(
                hp.idw_annotations,
                transform,
                hidden_labelmaps=hp.idw_hidden_labelmaps,
                clean_tags=hp.idw_clean_tags,
            )
        ]

    def _loader_kwargs(self, pad_multiple: int = 1) -> dict:
        workers = self.hparams.num_workers
        return {
            "collate_fn": partial(collate_samples, pad_multiple=pad_multiple),
            "num_workers": workers,
            "pin_memory": self.hparams.pin_memory,
            "persistent_workers": self.hparams.persistent_workers and workers > 0,
        }

    def train_dataloader(self) -> StatefulDataLoader:
        """Mixed batches, or plain shuffled labelled batches: one :class:`MixedBatchSampler`
        (without tag-only part for the latter) in a loader that checkpoints its position; the
        first loader after :meth:`load_state_dict` starts at the restored position."""
        hp = self.hparams
        mixed = self.tag_only_set is not None and hp.labelled_per_batch < hp.batch_size
        labelled_per_batch = hp.labelled_per_batch if mixed else hp.batch_size
        sampler = MixedBatchSampler(
            len(self.labelled_set),
            len(self.tag_only_set) if mixed else 0,
            labelled_per_batch,
            hp.batch_size - labelled_per_batch,
            seed=hp.seed,
        )
        loader = StatefulDataLoader(
            MixedDataset(self.labelled_set, self.tag_only_set),
            sampler=sampler,
            batch_size=None,
            **self._loader_kwargs(),
        )
        state, self._train_loader_state = self._train_loader_state, None
        if state is not None and not _distributed():
            self._restore(loader, state)
        return loader

    @staticmethod
    def _restore(loader: StatefulDataLoader, state: dict) -> None:
        """Load ``state`` (:meth:`state_dict`) into ``loader`` if it has as many workers."""
        if state["num_workers"] == loader.num_workers:
            loader.load_state_dict(state["train_loader"])
            return
        log.warning(
            "the checkpoint's data order was saved with data.num_workers=%d, not %d: "
            "the resumed epoch's order is not restored",
            state["num_workers"],
            loader.num_workers,
        )

    def state_dict(self) -> dict:
        """``{"train_loader": state, "num_workers": n}``: the position of the training loader
        that Lightning iterates, when it draws from this module's sampler (not under DDP)."""
        loader = self.trainer.train_dataloader if self.trainer is not None else None
        if isinstance(loader, StatefulDataLoader) and isinstance(loader.sampler, MixedBatchSampler):
            return {"train_loader": loader.state_dict(), "num_workers": loader.num_workers}
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        self._train_loader_state = state_dict or None

    def _eval_loader(self, dataset: Dataset) -> DataLoader:
        """In order; across DDP ranks, every sample exactly once (no padding repeats)."""
        sampler = None
        if _distributed():
            world_size = torch.distributed.get_world_size()
            if len(dataset) < world_size:
                raise DataError(
                    f"an evaluation split has {len(dataset)} images, fewer than the "
                    f"{world_size} processes that share it; evaluate on fewer devices"
                )
            sampler = UnrepeatedDistributedSampler(
                dataset, world_size, torch.distributed.get_rank(), shuffle=False
            )
        return DataLoader(
            dataset,
            batch_size=self.hparams.eval_batch_size,
            sampler=sampler,
            **self._loader_kwargs(pad_multiple=self.hparams.output_stride),
        )

    def tag_only_dataloader(self) -> DataLoader:
        """The tag-only training images in order, without augmentation, with their noisy tags
        and, where the data has them, their clean tags and hidden labelmaps (the diagnostics of
        tag cleaning, :mod:`dis_seg.reports.diagnostics`)."""
        demoted = self.partition is not None or self.hparams.labelled_fraction < 1
        if demoted:  # the rest of the training split joins IDW's: its VOC folder is read
            _, tag_only = self._training_sets(eval_transform())
        else:
            tag_only = self._idw_tag_only(eval_transform())
        if not tag_only:
            raise DataError(
                "no tag-only images: set idw_root to an IDW folder, or choose part of "
                "train_split as labelled (partition, labelled_fraction) with tag_only_rest"
            )
        return self._eval_loader(ConcatDataset(tag_only))

    def val_dataloader(self) -> DataLoader | list:
        return self._eval_loader(self.val_set) if self.val_set is not None else []

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        loaders = [self._eval_loader(dataset) for dataset in self.test_sets]
        return loaders[0] if len(loaders) == 1 else loaders
