"""Training batches that mix labelled and tag-only samples at a fixed count per batch.

:class:`MixedBatchSampler` yields one *plan* per batch, ``(labelled indices, tag-only
indices)``; :class:`MixedDataset` turns a plan into the list of samples, which the collate
function stacks. Use them with ``StatefulDataLoader(dataset, sampler=sampler, batch_size=None)``
(torchdata), whose state holds the sampler's position, so that training resumed from a
checkpoint continues with the plans an uninterrupted run would have drawn.

Under DDP, Lightning wraps the sampler in ``DistributedSamplerWrapper``, which lists the
epoch's plans, shuffles them with its own epoch number and hands whole plans to each rank, so
every rank's batch keeps the exact mix; all ranks build the same plans from the same seed, and
``set_epoch`` reaches the sampler through the wrapper, so epoch ``e`` is dealt alike in every
run. The wrapper has no ``state_dict``: a loader's state then holds no position in the plans
(``DISDataModule`` says what a resume does there).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import Dataset, Sampler

Plan = tuple[tuple[int, ...], tuple[int, ...]]

_LABELLED, _TAG_ONLY = 0, 1


def _permutation(count: int, seed: int, stream: int, index: int) -> list[int]:
    """Permutation ``index`` of ``range(count)`` in ``stream``, fixed by ``seed`` (≥ 0)."""
    return np.random.default_rng((seed, stream, index)).permutation(count).tolist()


class MixedBatchSampler(Sampler[Plan]):
    """Batch plans with ``labelled_per_batch`` labelled and ``tag_only_per_batch`` tag-only items.

    Each epoch visits every labelled index once in its own random order (the last batch is
    completed from the start of that order), so it has ``ceil(num_labelled /
    labelled_per_batch)`` batches. Tag-only indices come from a stream of random permutations
    that continues across epochs: they cycle, each seen once before any repeats.
    ``tag_only_per_batch=0`` (with ``num_tag_only=0``) gives plain shuffled labelled batches.

    The plans of epoch ``e`` are a pure function of ``seed`` and ``e`` (:meth:`plans`). The
    sampler's position is ``(epoch, yielded)``, the plans of that epoch drawn so far.
    Iterating continues from it to the end of the epoch, or runs the whole epoch again when it
    is finished (a loader iterates its sampler anew, and Lightning's distributed wrapper may
    list it twice for one epoch). :meth:`set_epoch` (called by Lightning before every epoch)
    moves to the start of another epoch; :meth:`state_dict` / :meth:`load_state_dict` save and
    restore the position (plain ints). Iteration reads the position when it draws its first
    plan, so ``set_epoch`` may come between ``iter()`` and the first plan.
    """

    def __init__(
        self,
        num_labelled: int,
        num_tag_only: int,
        labelled_per_batch: int,
        tag_only_per_batch: int,
        seed: int = 0,
    ) -> None:
        if num_labelled < 1:
            raise ValueError("batches need labelled samples")
        if tag_only_per_batch < 0 or (tag_only_per_batch > 0 and num_tag_only < 1):
            raise ValueError("mixed batches need tag-only samples")
        self.num_labelled = num_labelled
        self.num_tag_only = num_tag_only
        self.labelled_per_batch = labelled_per_batch
        self.tag_only_per_batch = tag_only_per_batch
        self.seed = seed
        self.epoch = 0
        self.yielded = 0

    def __len__(self) -> int:
        return math.ceil(self.num_labelled / self.labelled_per_batch)

    def _tag_only_stream(self, start: int, count: int) -> list[int]:
        """Items ``start .. start + count - 1`` of the endless tag-only stream, whose items
        ``r·num_tag_only ..`` are permutation ``r`` of the tag-only indices."""
        if count == 0:
            return []
        size = self.num_tag_only
        first, last = start // size, (start + count - 1) // size
        stream = [
            i for r in range(first, last + 1) for i in _permutation(size, self.seed, _TAG_ONLY, r)
        ]
        offset = start - first * size
        return stream[offset : offset + count]

    def plans(self, epoch: int) -> list[Plan]:
        """The ``len(self)`` plans of ``epoch``; the tag-only part of plan ``b`` is stream items
        ``(epoch·len(self) + b)·tag_only_per_batch`` onwards."""
        k, t, batches = self.labelled_per_batch, self.tag_only_per_batch, len(self)
        order = _permutation(self.num_labelled, self.seed, _LABELLED, epoch)
        order = (order * math.ceil(batches * k / self.num_labelled))[: batches * k]
        tag_only = self._tag_only_stream(epoch * batches * t, batches * t)
        return [
            (tuple(order[b * k : (b + 1) * k]), tuple(tag_only[b * t : (b + 1) * t]))
            for b in range(batches)
        ]

    def set_epoch(self, epoch: int) -> None:
        """Move to the start of ``epoch``, unless already inside it (as after a resume)."""
        if epoch != self.epoch:
            self.epoch, self.yielded = epoch, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "yielded": self.yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore a position; that of a finished epoch becomes the start of the next."""
        epoch, yielded = int(state["epoch"]), int(state["yielded"])
        self.epoch, self.yielded = (epoch + 1, 0) if yielded >= len(self) else (epoch, yielded)

    def __iter__(self) -> Iterator[Plan]:
        if self.yielded >= len(self):
            self.yielded = 0
        plans = self.plans(self.epoch)
        while self.yielded < len(plans):
            self.yielded += 1
            yield plans[self.yielded - 1]


class MixedDataset(Dataset):
    """Maps a plan ``(labelled indices, tag-only indices)`` to its samples, labelled first."""

    def __init__(self, labelled: Dataset, tag_only: Dataset | None) -> None:
        self.labelled = labelled
        self.tag_only = tag_only

    def __getitem__(self, plan: Plan) -> list[dict]:
        labelled_indices, tag_only_indices = plan
        return [self.labelled[i] for i in labelled_indices] + [
            self.tag_only[i] for i in tag_only_indices
        ]
