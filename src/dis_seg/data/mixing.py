"""Training batches that mix labelled and tag-only samples at a fixed count per batch.

:class:`MixedBatchSampler` yields one *plan* per batch, ``(labelled indices, tag-only
indices)``; :class:`MixedDataset` turns a plan into the list of samples, which the collate
function stacks. Use them with ``DataLoader(dataset, sampler=sampler, batch_size=None)``. As a
plan is one sampler element, Lightning's distributed sampler replacement (which wraps a custom
sampler in ``DistributedSamplerWrapper``) hands whole batches to each rank, so every rank's
batch keeps the exact mix. The sampler's random state lives in the main process and is seeded,
so all ranks build the same plans.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, Sampler

Plan = tuple[tuple[int, ...], tuple[int, ...]]


class MixedBatchSampler(Sampler[Plan]):
    """Batch plans with ``labelled_per_batch`` labelled and ``tag_only_per_batch`` tag-only items.

    An epoch visits every labelled index once in a new random order (the last batch is
    completed from the start of that order), so it has ``ceil(num_labelled /
    labelled_per_batch)`` batches. Tag-only indices come from a stream of random permutations
    that continues across epochs: they cycle, each seen once before any repeats.
    """

    def __init__(
        self,
        num_labelled: int,
        num_tag_only: int,
        labelled_per_batch: int,
        tag_only_per_batch: int,
        seed: int = 0,
    ) -> None:
        if num_labelled < 1 or num_tag_only < 1 or labelled_per_batch < 1:
            raise ValueError("mixed batches need labelled and tag-only samples")
        self.num_labelled = num_labelled
        self.num_tag_only = num_tag_only
        self.labelled_per_batch = labelled_per_batch
        self.tag_only_per_batch = tag_only_per_batch
        self.generator = torch.Generator().manual_seed(seed)
        self._tag_only_stream: list[int] = []

    def __len__(self) -> int:
        return math.ceil(self.num_labelled / self.labelled_per_batch)

    def _next_tag_only(self, count: int) -> tuple[int, ...]:
        while len(self._tag_only_stream) < count:
            self._tag_only_stream += torch.randperm(
                self.num_tag_only, generator=self.generator
            ).tolist()
        taken, self._tag_only_stream = (
            self._tag_only_stream[:count],
            self._tag_only_stream[count:],
        )
        return tuple(taken)

    def __iter__(self) -> Iterator[Plan]:
        k, needed = self.labelled_per_batch, len(self) * self.labelled_per_batch
        order = torch.randperm(self.num_labelled, generator=self.generator).tolist()
        order = (order * math.ceil(needed / self.num_labelled))[:needed]
        plans = [
            (tuple(order[i : i + k]), self._next_tag_only(self.tag_only_per_batch))
            for i in range(0, needed, k)
        ]
        return iter(plans)


class MixedDataset(Dataset):
    """Maps a plan ``(labelled indices, tag-only indices)`` to its samples, labelled first."""

    def __init__(self, labelled: Dataset, tag_only: Dataset) -> None:
        self.labelled = labelled
        self.tag_only = tag_only

    def __getitem__(self, plan: Plan) -> list[dict]:
        labelled_indices, tag_only_indices = plan
        return [self.labelled[i] for i in labelled_indices] + [
            self.tag_only[i] for i in tag_only_indices
        ]
