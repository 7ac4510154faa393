from collections import Counter

import pytest
from lightning_fabric.utilities.data import _update_dataloader
from lightning_fabric.utilities.distributed import DistributedSamplerWrapper
from torchdata.stateful_dataloader import StatefulDataLoader

from dis_seg.data.mixing import MixedBatchSampler, MixedDataset


def sampler() -> MixedBatchSampler:
    """4 plans an epoch (10 labelled, 3 a plan), 2 tag-only items of 7 a plan."""
    return MixedBatchSampler(10, 7, labelled_per_batch=3, tag_only_per_batch=2, seed=3)


def epochs(sampler: MixedBatchSampler, numbers) -> list:
    """The plans of the epochs ``numbers``, each started with ``set_epoch``, one list."""
    plans = []
    for epoch in numbers:
        sampler.set_epoch(epoch)
        plans += list(sampler)
    return plans


def test_every_plan_has_the_configured_counts_and_the_epoch_follows_the_labelled_set():
    plans = list(MixedBatchSampler(10, 7, labelled_per_batch=3, tag_only_per_batch=2))
    assert len(plans) == 4  # ceil(10 / 3)
    assert all(len(labelled) == 3 and len(tag_only) == 2 for labelled, tag_only in plans)
    assert {i for labelled, _ in plans for i in labelled} == set(range(10))


def test_tag_only_indices_cycle_through_all_before_repeating():
    sampler = MixedBatchSampler(6, 5, labelled_per_batch=2, tag_only_per_batch=2)
    drawn = [i for _, tag_only in epochs(sampler, range(5)) for i in tag_only]
    assert len(drawn) == 30
    for start in range(0, 30, 5):
        assert sorted(drawn[start : start + 5]) == list(range(5))


def test_each_epoch_draws_its_own_order_fixed_by_the_seed():
    first, second = MixedBatchSampler(8, 8, 2, 2, seed=1), MixedBatchSampler(8, 8, 2, 2, seed=1)
    plans = [epochs(first, [epoch]) for epoch in (0, 1)]
    assert plans[0] != plans[1]
    assert [epochs(second, [epoch]) for epoch in (0, 1)] == plans
    assert list(second) == plans[1]  # iterating again without set_epoch repeats the epoch


def test_fewer_labelled_images_than_a_batch_still_fill_the_batch():
    plans = list(MixedBatchSampler(2, 3, labelled_per_batch=5, tag_only_per_batch=1))
    assert len(plans) == 1
    assert Counter(plans[0][0]) in (Counter({0: 3, 1: 2}), Counter({0: 2, 1: 3}))


def test_without_tag_only_items_plans_are_plain_shuffled_labelled_batches():
    plans = list(MixedBatchSampler(10, 0, labelled_per_batch=4, tag_only_per_batch=0))
    assert [len(labelled) for labelled, _ in plans] == [4, 4, 4]
    assert {i for labelled, _ in plans for i in labelled} == set(range(10))
    assert all(tag_only == () for _, tag_only in plans)


@pytest.mark.parametrize("drawn", [0, 1, 3, 4], ids=lambda d: f"{d}_of_4_plans")
def test_a_sampler_restored_from_its_state_continues_like_an_uninterrupted_one(drawn):
    uninterrupted = epochs(sampler(), range(5))
    interrupted = sampler()
    seen = epochs(interrupted, [0])
    interrupted.set_epoch(1)
    plans = iter(interrupted)
    seen += [next(plans) for _ in range(drawn)]
    restored = sampler()
    restored.load_state_dict(interrupted.state_dict())
    seen += list(restored)  # the rest of epoch 1 (all of epoch 2 once epoch 1 is drawn)
    seen += epochs(restored, [restored.epoch + 1, restored.epoch + 2])
    assert len(seen) >= 16
    assert seen == uninterrupted[: len(seen)]


def test_set_epoch_keeps_a_restored_position_in_that_epoch_and_starts_other_epochs_afresh():
    restored = sampler()
    restored.load_state_dict({"epoch": 1, "yielded": 3})
    restored.set_epoch(1)  # as Lightning does before the resumed epoch
    assert list(restored) == sampler().plans(1)[3:]
    restored.set_epoch(2)
    assert list(restored) == sampler().plans(2) == epochs(sampler(), [2])


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


def ids_loader(sampler: MixedBatchSampler) -> StatefulDataLoader:
    """Batches of the items themselves: labelled 0..9, tag-only 100..106."""
    return StatefulDataLoader(
        MixedDataset(list(range(10)), list(range(100, 107))),
        sampler=sampler,
        batch_size=None,
        collate_fn=list,
    )


def test_lightning_sampler_replacement_keeps_the_mix_per_batch():
    loader = ids_loader(MixedBatchSampler(8, 3, labelled_per_batch=2, tag_only_per_batch=2))
    wrapper = DistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=1, shuffle=True)
    replaced = _update_dataloader(loader, wrapper)
    batches = list(replaced)
    assert isinstance(replaced, StatefulDataLoader)
    assert len(batches) == 2
    assert all(sum(i < 100 for i in batch) == 2 for batch in batches)


def test_under_the_distributed_wrapper_a_rank_deals_each_epoch_as_set_epoch_fixes_it():
    def rank_loader() -> StatefulDataLoader:
        loader = ids_loader(sampler())
        wrapper = DistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=1, shuffle=True)
        return _update_dataloader(loader, wrapper)

    def epoch(loader: StatefulDataLoader, number: int) -> list:
        loader.sampler.set_epoch(number)  # the wrapper passes it on to the sampler
        return list(loader)

    uninterrupted = rank_loader()
    epochs = [epoch(uninterrupted, number) for number in range(3)]
    assert epochs[1] != epochs[2]
    assert epoch(rank_loader(), 2) == epochs[2]  # a process that starts at epoch 2
