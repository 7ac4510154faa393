import io
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from dis_seg.data import VOC_CLASSES, DISDataModule
from dis_seg.errors import DataError
from tests.helpers import quiet_trainer


def datamodule(root: Path, **kwargs) -> DISDataModule:
    """A DISDataModule on the tiny synthetic set: 12 labelled, 10 tag-only, 32×32 images."""
    defaults = {
        "voc_root": root / "VOC2012",
        "test_split": "test",
        "idw_root": root / "IDW",
        "idw_hidden_labelmaps": "hidden_labelmaps",
        "idw_clean_tags": "clean_tags.jsonl",
        "batch_size": 6,
        "labelled_per_batch": 2,
        "crop_size": 24,
    }
    module = DISDataModule(**{**defaults, **kwargs})
    module.setup()
    return module


def test_training_batch_keys_shapes_and_types(synthetic_root):
    batch = next(iter(datamodule(synthetic_root).train_dataloader()))
    assert batch["image"].shape == (6, 3, 24, 24)
    assert batch["image"].dtype == torch.float32
    for key in ("labelmap", "hidden_labelmap"):
        assert batch[key].shape == (6, 24, 24)
        assert batch[key].dtype == torch.int64
    for key in ("tags", "clean_tags"):
        assert batch[key].shape == (6, 21)
        assert batch[key].dtype == torch.float32
    for key in ("has_labelmap", "has_hidden"):
        assert batch[key].shape == (6,)
        assert batch[key].dtype == torch.bool
    assert batch["orig_size"].tolist() == [[32, 32]] * 6
    assert len(batch["id"]) == 6
    assert (batch["tags"][:, 0] == 1).all()


def test_every_training_batch_has_the_configured_number_of_labelled_samples(synthetic_root):
    loader = datamodule(synthetic_root, labelled_per_batch=2).train_dataloader()
    batches = list(loader)
    assert len(batches) == 6  # 12 labelled images, 2 per batch
    for batch in batches:
        assert batch["has_labelmap"].tolist() == [True] * 2 + [False] * 4
        assert (batch["labelmap"][2:] == 255).all()
        assert batch["has_hidden"].all()  # synthetic tag-only images keep their hidden truth
    tag_only_ids = [i for batch in batches for i in batch["id"][2:]]
    assert len(set(tag_only_ids)) == 10  # all tag-only images seen, then they cycle


def test_tag_only_samples_carry_their_hidden_truth_through_the_crop(synthetic_root):
    batch = next(iter(datamodule(synthetic_root).train_dataloader()))
    for hidden, clean_tags in zip(
        batch["hidden_labelmap"][2:], batch["clean_tags"][2:], strict=True
    ):
        visible = set(hidden.unique().tolist()) - {255}
        assert visible
        assert visible <= set(clean_tags.nonzero().flatten().tolist())


def test_labelled_fraction_turns_the_rest_into_tag_only_samples(synthetic_root):
    module = datamodule(synthetic_root, labelled_fraction=0.25, idw_root=None)
    assert len(module.labelled_set) == 3
    assert len(module.tag_only_set) == 9
    sample = module.tag_only_set[0]
    assert sample["has_labelmap"] is False
    assert (sample["labelmap"] == 255).all()
    assert sample["has_hidden"] is True
    assert (sample["hidden_labelmap"] != 255).any()
    assert torch.equal(sample["clean_tags"], sample["tags"])
    assert sample["tags"].sum() >= 2
    batch = next(iter(module.train_dataloader()))
    assert batch["has_labelmap"].sum() == 2


def test_labelled_fraction_split_is_fixed_by_the_seed(synthetic_root):
    def kept(seed: int) -> list[int]:
        return datamodule(synthetic_root, labelled_fraction=0.5, seed=seed).labelled_set.indices

    assert kept(0) == kept(0)
    assert kept(0) != kept(1)


def test_without_tag_only_data_batches_are_plain_labelled_batches(synthetic_root):
    module = datamodule(synthetic_root, idw_root=None, batch_size=4)
    batches = list(module.train_dataloader())
    assert len(batches) == 3
    assert all(batch["has_labelmap"].all() for batch in batches)


def training_ids(loader, epochs) -> list[list[str]]:
    """The sample ids of each batch of ``epochs``, each started with ``set_epoch`` as Lightning
    does."""
    ids = []
    for epoch in epochs:
        loader.sampler.set_epoch(epoch)
        ids += [batch["id"] for batch in loader]
    return ids


@pytest.mark.parametrize(
    ("path", "num_workers", "drawn"),
    [("mixed", 0, 2), ("mixed", 0, 6), ("mixed", 2, 2), ("plain", 0, 2)],
    ids=["mixed_mid_epoch", "mixed_epoch_end", "mixed_two_workers", "plain"],
)
def test_training_loader_restored_from_its_state_yields_the_ids_of_an_uninterrupted_one(
    synthetic_root, path, num_workers, drawn
):
    options = {"num_workers": num_workers}
    if path == "plain":
        options.update(idw_root=None, batch_size=2)
    uninterrupted = training_ids(datamodule(synthetic_root, **options).train_dataloader(), range(4))
    loader = datamodule(synthetic_root, **options).train_dataloader()
    seen = training_ids(loader, [0])
    loader.sampler.set_epoch(1)
    batches = iter(loader)
    seen += [next(batches)["id"] for _ in range(drawn)]
    checkpoint = io.BytesIO()
    torch.save(loader.state_dict(), checkpoint)
    checkpoint.seek(0)
    restored = datamodule(synthetic_root, **options).train_dataloader()
    restored.load_state_dict(torch.load(checkpoint, weights_only=True))
    seen += [batch["id"] for batch in restored]  # the rest of the interrupted epoch
    seen += training_ids(restored, [restored.sampler.epoch + 1])
    assert len(seen) >= 18
    assert seen == uninterrupted[: len(seen)]


def test_training_needs_labelled_data(synthetic_root):
    with pytest.raises(DataError, match="no labelled data: set voc_root"):
        datamodule(synthetic_root, voc_root=None)


def test_eval_batches_keep_the_original_size_padded_to_the_output_stride(synthetic_root):
    module = datamodule(synthetic_root, output_stride=24, eval_batch_size=2)
    batch = next(iter(module.val_dataloader()))
    assert batch["image"].shape == (2, 3, 48, 48)
    assert batch["orig_size"].tolist() == [[32, 32], [32, 32]]
    assert (batch["labelmap"][:, 32:] == 255).all()
    assert (batch["labelmap"][:, :32, :32] != 255).all()
    assert batch["has_labelmap"].all()


def test_test_loaders_cover_voc_and_a_configured_idw_test_split(synthetic_root):
    module = datamodule(
        synthetic_root,
        idw_test_annotations="annotations.jsonl",
        idw_test_labelmaps="hidden_labelmaps",
    )
    voc_loader, idw_loader = module.test_dataloader()
    assert module.test_names == ["voc", "idw"]
    assert len(voc_loader) == 2
    assert len(idw_loader) == 10
    assert next(iter(idw_loader))["has_labelmap"].all()
    assert len(datamodule(synthetic_root).test_dataloader()) == 2


def test_class_names_and_count_are_exposed(synthetic_root):
    module = datamodule(synthetic_root)
    assert module.num_classes == 21
    assert module.class_names == VOC_CLASSES


def test_prepare_data_generates_the_synthetic_set_when_missing(tmp_path):
    synthetic = {"out": tmp_path, "size": 16, "num_labelled": 4, "num_tag_only": 4, "num_val": 1,
                 "num_test": 1, "progress": False}  # fmt: skip
    module = DISDataModule(
        voc_root=tmp_path / "VOC2012",
        idw_root=tmp_path / "IDW",
        batch_size=4,
        labelled_per_batch=2,
        crop_size=16,
        generate_if_missing=True,
        synthetic=synthetic,
    )
    module.prepare_data()
    module.setup("fit")
    assert next(iter(module.train_dataloader()))["image"].shape == (4, 3, 16, 16)


@pytest.mark.parametrize("name", ["synthetic", "voc", "voc_idw", "voc_tags", "voc_coco"])
def test_hydra_data_configs_instantiate_a_datamodule(name, tmp_path, monkeypatch, compose):
    monkeypatch.setenv("DIS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VOC_ROOT", raising=False)
    monkeypatch.delenv("IDW_ROOT", raising=False)
    monkeypatch.delenv("COCO_ROOT", raising=False)
    cfg = compose(None, f"+data={name}", "+paths=default", "+model=resnet18")
    module = instantiate(cfg.data)
    assert isinstance(module, DISDataModule)
    assert module.num_classes == 21
    expected_voc = {"synthetic": "synthetic/VOC2012"}.get(name, "VOCdevkit/VOC2012")
    assert Path(module.hparams.voc_root) == tmp_path / expected_voc
    assert (module.hparams.idw_root is None) == (name in ("voc", "voc_tags"))


def test_voc_and_idw_roots_follow_environment_variables(monkeypatch, compose):
    monkeypatch.setenv("VOC_ROOT", "/datasets/VOC2012")
    monkeypatch.setenv("IDW_ROOT", "/datasets/IDW")
    cfg = compose(None, "+data=voc_idw", "+paths=default")
    assert (cfg.data.voc_root, cfg.data.idw_root) == ("/datasets/VOC2012", "/datasets/IDW")


def test_lightning_fit_gets_mixed_batches_from_the_datamodule(synthetic_root):
    class CountingModule(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(()))
            self.labelled_counts: list[int] = []

        def training_step(self, batch, batch_idx):  # noqa: ARG002 (Lightning's signature)
            self.labelled_counts.append(int(batch["has_labelmap"].sum()))
            return self.weight * batch["image"].mean()

        def validation_step(self, batch, batch_idx):  # noqa: ARG002 (Lightning's signature)
            assert batch["image"].shape[0] == 1

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = CountingModule()
    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(model, datamodule=datamodule(synthetic_root, labelled_per_batch=3))
    assert model.labelled_counts == [3] * 8  # 2 epochs of 12 / 3 batches


def test_without_a_val_split_there_is_no_validation_loader(synthetic_root):
    assert datamodule(synthetic_root, val_split=None).val_dataloader() == []


def test_training_crops_keep_the_configured_size_even_off_the_stride(synthetic_root):
    batch = next(iter(datamodule(synthetic_root, crop_size=21, output_stride=8).train_dataloader()))
    assert batch["image"].shape[-2:] == (21, 21)
