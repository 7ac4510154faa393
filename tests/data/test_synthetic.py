import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from dis_seg import CONFIG_DIR
from dis_seg.cli.synthetic import main
from dis_seg.data import VOC_CLASSES, IDWTags, VOCSegmentation, tags_from_description
from dis_seg.data.idw import read_jsonl
from dis_seg.data.synthetic import default_parameters, ensure_generated, generate
from dis_seg.data.synthetic.descriptions import SALIENT_DROP, describe, noisy_tags
from dis_seg.data.synthetic.domains import JPEG_QUALITY
from dis_seg.data.synthetic.looks import CLASS_LOOKS
from dis_seg.errors import DataError
from tests.data.conftest import SYNTHETIC

TINY = {"size": 16, "num_labelled": 3, "num_tag_only": 3, "num_val": 1, "num_test": 1}
TINY |= {"num_idw_test": 1}


def files(root) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_writes_the_same_bytes(tmp_path):
    first = generate(tmp_path / "a", seed=3, progress=False, **TINY)
    second = generate(tmp_path / "b", seed=3, progress=False, **TINY)
    assert files(first) == files(second)


def test_another_seed_writes_other_images(tmp_path):
    first = files(generate(tmp_path / "a", seed=0, progress=False, **TINY))
    second = files(generate(tmp_path / "b", seed=1, progress=False, **TINY))
    image = next(p for p in first if p.suffix == ".jpg")
    assert first[image] != second[image]


def test_voc_part_reads_with_the_voc_reader(synthetic_root):
    voc = synthetic_root / "VOC2012"
    for split, count in [("train", 12), ("val", 3), ("test", 2)]:
        dataset = VOCSegmentation(voc, split)
        assert len(dataset) == count
    sample = VOCSegmentation(voc, "train")[0]
    assert sample["image"].shape == (32, 32, 3)
    assert 1 <= len(set(np.unique(sample["labelmap"])) - {0}) <= 3


def test_idw_part_reads_with_noisy_tags_and_hidden_truth(synthetic_root):
    dataset = IDWTags(
        synthetic_root / "IDW", hidden_labelmaps="hidden_labelmaps", clean_tags="clean_tags.jsonl"
    )
    assert len(dataset) == 10
    for sample in dataset:
        assert not sample["has_labelmap"]
        assert sample["has_hidden"]
        present = np.unique(sample["hidden_labelmap"])
        assert sample["clean_tags"].nonzero().flatten().tolist() == sorted({0, *present.tolist()})


def test_idw_test_split_reads_labelled_with_the_true_tags(synthetic_root):
    dataset = IDWTags(synthetic_root / "IDW", "test_annotations.jsonl", labelmaps="labelmaps")
    assert len(dataset) == SYNTHETIC["num_idw_test"]
    for sample in dataset:
        assert sample["has_labelmap"]
        assert sample["has_hidden"]
        present = np.unique(sample["labelmap"])
        assert sample["tags"].nonzero().flatten().tolist() == sorted({0, *present.tolist()})


def test_descriptions_name_exactly_the_noisy_tags(synthetic_root):
    for line in (synthetic_root / "IDW" / "annotations.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert tags_from_description(record["description"]) == set(record["tags"])


def tags_per_line(path) -> list[list[str]]:
    return [record["tags"] for _, record in read_jsonl(path)]


def test_tag_noise_drops_and_adds_tags(tmp_path):
    generate(tmp_path, tag_noise=(0.5, 0.5), progress=False, **{**TINY, "num_tag_only": 40})
    noisy = tags_per_line(tmp_path / "IDW/annotations.jsonl")
    clean = tags_per_line(tmp_path / "IDW/clean_tags.jsonl")
    assert any(set(c) - set(n) for n, c in zip(noisy, clean, strict=True))
    assert any(set(n) - set(c) for n, c in zip(noisy, clean, strict=True))


def test_without_noise_the_tags_are_the_clean_tags(tmp_path):
    generate(tmp_path, tag_noise=(0.0, 0.0), progress=False, **TINY)
    noisy = tags_per_line(tmp_path / "IDW/annotations.jsonl")
    assert noisy == tags_per_line(tmp_path / "IDW/clean_tags.jsonl")


def test_small_and_mostly_hidden_objects_go_unnamed_more_often_than_salient_ones():
    shown = {15: (0.3, 1.0), 12: (0.05, 1.0), 8: (0.3, 0.4)}  # salient, small, mostly hidden
    rng = np.random.default_rng(0)
    named = [noisy_tags(shown, [8, 12, 15], drop=0.5, add=0.0, rng=rng) for _ in range(400)]
    rate = {c: sum(c in tags for tags in named) / len(named) for c in shown}
    assert rate[15] == pytest.approx(1 - 0.5 * SALIENT_DROP, abs=0.04)
    assert rate[12] == pytest.approx(0.5, abs=0.08)
    assert rate[8] == pytest.approx(0.5, abs=0.08)


def test_false_tags_are_absent_classes_added_at_the_given_rate():
    rng = np.random.default_rng(0)
    named = [noisy_tags({15: (0.3, 1.0)}, [3, 15], drop=0.0, add=0.1, rng=rng) for _ in range(500)]
    assert all(tags in ([15], [15, 3]) for tags in named)
    assert sum(tags == [15, 3] for tags in named) / len(named) == pytest.approx(0.1, abs=0.03)


def test_descriptions_size_their_objects_and_name_exactly_the_tags():
    rng = np.random.default_rng(0)
    shown = {15: (0.4, 1.0), 12: (0.05, 1.0)}
    text = describe([15, 12, 3], shown, "street", rng)
    assert "large" in text
    assert "small" in text
    assert text.endswith("on a street")
    assert tags_from_description(text) == {"person", "dog", "bird"}
    assert tags_from_description(describe([], {}, "indoor", rng)) == set()


def test_every_class_shares_each_of_its_colours_with_another_class():
    for name, look in CLASS_LOOKS.items():
        for colour in look.colours:
            sharing = [n for n, other in CLASS_LOOKS.items() if colour in other.colours]
            assert len(sharing) >= 2, (name, colour)


def mean_colour(dataset) -> np.ndarray:
    return np.mean([sample["image"].reshape(-1, 3).mean(0) for sample in dataset], axis=0)


def test_the_idw_look_is_brighter_warmer_and_more_compressed(synthetic_root):
    voc = mean_colour(VOCSegmentation(synthetic_root / "VOC2012", "train"))
    idw = mean_colour(IDWTags(synthetic_root / "IDW"))
    assert idw.mean() > voc.mean() + 20
    assert idw[0] - idw[2] > voc[0] - voc[2]
    assert JPEG_QUALITY["idw"] < JPEG_QUALITY["voc"]


def test_classes_restrict_the_objects(tmp_path):
    root = generate(tmp_path, classes=["cat", "dog"], progress=False, **TINY)
    for sample in VOCSegmentation(root / "VOC2012", "train"):
        assert set(np.unique(sample["labelmap"])) <= {
            0,
            VOC_CLASSES.index("cat"),
            VOC_CLASSES.index("dog"),
        }


def test_unknown_class_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="VOC object classes"):
        generate(tmp_path, classes=["unicorn"], progress=False, **TINY)


def test_command_line_writes_both_formats(tmp_path, capsys):
    options = "--size 16 --num-labelled 2 --num-tag-only 2 --num-val 1 --num-test 1"
    options += " --num-idw-test 1"
    main([*f"--out {tmp_path} {options} --tag-noise 0 0 --classes 3".split()])
    assert (tmp_path / "VOC2012/ImageSets/Segmentation/train.txt").read_text() == (
        "train_00000\ntrain_00001\n"
    )
    images = sorted(path.name for path in (tmp_path / "IDW/images").iterdir())
    assert images == ["web_00000.jpg", "web_00001.jpg", "web_test_00000.jpg"]
    assert [p.name for p in (tmp_path / "IDW/labelmaps").iterdir()] == ["web_test_00000.png"]
    test_split = (tmp_path / "IDW/test_annotations.jsonl").read_text().splitlines()
    assert [json.loads(line)["image"] for line in test_split] == ["web_test_00000.jpg"]
    params = json.loads((tmp_path / "synthetic.json").read_text())
    assert params["classes"] == ["aeroplane", "bicycle", "bird"]
    assert params["tag_noise"] == [0.0, 0.0]
    assert "wrote" in capsys.readouterr().out


def test_ensure_generated_writes_a_data_set_once_and_keeps_it(tmp_path):
    ensure_generated(tmp_path, progress=False, **TINY)
    marker = tmp_path / "synthetic.json"
    stamp = marker.stat().st_mtime_ns
    ensure_generated(tmp_path, progress=False, **TINY)
    assert marker.stat().st_mtime_ns == stamp
    assert not (tmp_path / "synthetic.partial.json").exists()


def test_a_data_set_of_other_parameters_is_refused_by_name_and_left_as_it_was(tmp_path):
    generate(tmp_path, progress=False, **TINY)
    before = files(tmp_path)
    with pytest.raises(DataError, match=rf"{tmp_path} holds a synthetic data set of other "
                       r"parameters \(seed 0, not 1\)"):  # fmt: skip
        ensure_generated(tmp_path, progress=False, **{**TINY, "seed": 1})
    with pytest.raises(DataError, match="size 16, not 24"):
        generate(tmp_path, progress=False, **{**TINY, "size": 24})
    assert files(tmp_path) == before


def test_an_interrupted_generation_of_the_same_parameters_is_written_again(tmp_path):
    complete = files(generate(tmp_path / "complete", progress=False, **TINY))
    generate(tmp_path / "interrupted", progress=False, **TINY)
    marker = tmp_path / "interrupted" / "synthetic.json"
    marker.rename(marker.with_name("synthetic.partial.json"))
    (tmp_path / "interrupted" / "IDW" / "annotations.jsonl").unlink()
    ensure_generated(tmp_path / "interrupted", progress=False, **TINY)
    assert files(tmp_path / "interrupted") == complete


def test_a_folder_of_other_files_is_never_generated_into(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="holds files but no synthetic.json"):
        ensure_generated(tmp_path, progress=False, **TINY)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_command_refuses_a_folder_of_another_data_set_in_one_line(tmp_path, capsys):
    generate(tmp_path, progress=False, **TINY)
    tiny = [f"--{key.replace('_', '-')}={value}" for key, value in TINY.items()]
    with pytest.raises(SystemExit) as stopped:
        main(["--out", str(tmp_path), "--seed", "4", *tiny])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {tmp_path} holds a synthetic data set")
    assert "seed 0, not 4" in error
    assert error.count("\n") == 1


def test_what_generate_is_not_given_it_takes_from_the_config_file(tmp_path):
    config = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR + "/data/synthetic.yaml").synthetic)
    generate(tmp_path / "set", progress=False, **TINY)
    written = json.loads((tmp_path / "set" / "synthetic.json").read_text())
    assert {key: written[key] for key in ("seed", "tag_noise", "classes")} == {
        key: config[key] for key in ("seed", "tag_noise", "classes")
    }
    assert default_parameters() == {k: v for k, v in config.items() if k != "out"}
    with pytest.raises(TypeError, match=r"unknown synthetic data parameters \['colour'\]"):
        generate(tmp_path, colour=3, **TINY)
