from collections import Counter

import pytest
import torch
from lightning_fabric.utilities.data import _update_dataloader
from lightning_fabric.utilities.distributed import DistributedSamplerWrapper
from torch.utils.data import DataLoader

from dis_seg.data.mixing import MixedBatchSampler, MixedDataset


def test_every_plan_has_the_configured_counts_and_the_epoch_follows_the_labelled_set():
    plans = list(MixedBatchSampler(10, 7, labelled_per_batch=3, tag_only_per_batch=2))
    assert len(plans) == 4  # ceil(10 / 3)
    assert all(len(labelled) == 3 and len(tag_only) == 2 for labelled, tag_only in plans)
    assert {i for labelled, _ in plans for i in labelled} == set(range(10))


def test_tag_only_indices_cycle_through_all_before_repeating():
    sampler = MixedBatchSampler(6, 5, labelled_per_batch=2, tag_only_per_batch=2)
    drawn = [i for _ in range(5) for _, tag_only in sampler for i in tag_only]
    assert len(drawn) == 30
    for start in range(0, 30, 5):
        assert sorted(drawn[start : start + 5]) == list(range(5))


def test_each_epoch_draws_a_new_order_fixed_by_the_seed():
    first, second = MixedBatchSampler(8, 8, 2, 2, seed=1), MixedBatchSampler(8, 8, 2, 2, seed=1)
    epochs = [list(first), list(first)]
    assert epochs[0] != epochs[1]
    assert [list(second), list(second)] == epochs


def test_fewer_labelled_images_than_a_batch_still_fill_the_batch():
    plans = list(MixedBatchSampler(2, 3, labelled_per_batch=5, tag_only_per_batch=1))
    assert len(plans) == 1
    assert Counter(plans[0][0]) in (Counter({0: 3, 1: 2}), Counter({0: 2, 1: 3}))


def test_mixed_dataset_returns_labelled_samples_first():
    dataset = MixedDataset(labelled=["l0", "l1", "l2"], tag_only=["t0", "t1"])
    assert dataset[((2, 0), (1,))] == ["l2", "l0", "t1"]


@pytest.mark.parametrize("world_size", [2, 3])
def test_distributed_wrapper_shards_whole_batches_across_ranks(world_size):
    def sampler() -> MixedBatchSampler:  # each rank builds its own, with the same seed
        return MixedBatchSampler(12, 5, labelled_per_batch=2, tag_only_per_batch=3, seed=4)

    shards = [
        list(DistributedSamplerWrapper(sampler(), num_replicas=world_size, rank=rank))
        for rank in range(world_size)
    ]
    assert all(len(shard) == 6 // world_size for shard in shards)
    assert sorted(plan for shard in shards for plan in shard) == sorted(sampler())


def test_lightning_sampler_replacement_keeps_the_mix_per_batch():
    labelled = [{"x": torch.tensor(1)}] * 8
    tag_only = [{"x": torch.tensor(0)}] * 3
    loader = DataLoader(
        MixedDataset(labelled, tag_only),
        sampler=MixedBatchSampler(8, 3, labelled_per_batch=2, tag_only_per_batch=2),
        batch_size=None,
        collate_fn=lambda samples: torch.stack([s["x"] for s in samples]),
    )
    wrapper = DistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=1, shuffle=True)
    replaced = _update_dataloader(loader, wrapper)
    batches = list(replaced)
    assert len(batches) == 2
    assert all(batch.tolist() == [1, 1, 0, 0] for batch in batches)
