import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dis_seg.cli.coco import main
from dis_seg.data import VOC_CLASSES, IDWTags
from dis_seg.data.coco import COCO_TO_VOC, convert
from dis_seg.errors import DataError
from tests.data.coco_fixture import IMAGES, coco_files, file_name, write_coco
from tests.helpers import ENV, REPO

# The measured noise of the fixture's caption tags, as docs/DATA.md reports it.
FIXTURE_NOISE = (
    "overall over 27 images: recall 81.8 %, precision 97.8 %, 0.037 false and 0.370 missed tags "
    "per image"
)


@pytest.fixture
def coco(tmp_path) -> Path:
    return write_coco(tmp_path / "coco")


def arguments(coco: Path, out: Path, instances: bool = True) -> list[str]:
    files = ["--captions", str(coco / "annotations" / "captions_train2017.json")]
    if instances:
        files += ["--instances", str(coco / "annotations" / "instances_train2017.json")]
    return [*files, "--images", str(coco / "train2017"), "--out", str(out)]


def run(coco: Path, out: Path, instances: bool = True, copy: bool = False):
    annotations = coco / "annotations"
    return convert(
        annotations / "captions_train2017.json",
        coco / "train2017",
        out,
        annotations / "instances_train2017.json" if instances else None,
        copy=copy,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_coco_categories_name_the_twenty_voc_classes():
    assert sorted(COCO_TO_VOC.values()) == sorted(VOC_CLASSES[1:])
    assert COCO_TO_VOC["couch"] == "sofa"
    assert COCO_TO_VOC["tv"] == "tvmonitor"


def test_converter_writes_the_idw_layout_of_the_images_whose_captions_name_a_voc_class(
    coco, tmp_path
):
    run(coco, tmp_path / "IDW")
    records = read_jsonl(tmp_path / "IDW" / "annotations.jsonl")
    assert len(records) == 27
    first = records[0]
    assert first["image"] == file_name(0)
    assert first["description"] == " ".join(IMAGES[0][0])
    assert first["tags"] == ["horse", "person"]
    link = tmp_path / "IDW" / "images" / file_name(0)
    assert link.is_symlink()
    assert link.resolve() == (coco / "train2017" / file_name(0)).resolve()
    written = {r["image"] for r in records}
    assert file_name(3) not in written  # a truck at a crossing: no VOC class
    assert file_name(31) not in written  # train tracks without a train
    hot_dog = next(r for r in records if r["image"] == file_name(1))
    assert hot_dog["tags"] == ["bottle", "diningtable", "person"]


def test_the_written_folder_reads_as_idw_tag_only_images_with_clean_tags(coco, tmp_path):
    run(coco, tmp_path / "IDW")
    dataset = IDWTags(tmp_path / "IDW", clean_tags="clean_tags.jsonl")
    assert len(dataset) == 27
    sofa = dataset.ids.index(file_name(4))
    sample = dataset[sofa]
    names = {VOC_CLASSES[i] for i in sample["tags"].nonzero().flatten().tolist()}
    clean = {VOC_CLASSES[i] for i in sample["clean_tags"].nonzero().flatten().tolist()}
    assert names == {"background", "person", "sofa", "tvmonitor"}
    assert clean == names | {"pottedplant"}  # the plant behind the sofa is not named
    assert sample["image"].shape == (8, 8, 3)
    assert not sample["has_labelmap"]


def test_clean_tags_are_the_voc_classes_of_the_instances(coco, tmp_path):
    run(coco, tmp_path / "IDW")
    clean = {r["image"]: r["tags"] for r in read_jsonl(tmp_path / "IDW" / "clean_tags.jsonl")}
    assert clean[file_name(1)] == ["bottle", "diningtable", "person"]  # the hot dog is no tag
    assert clean[file_name(7)] == ["aeroplane", "person"]  # airplane; the truck is no tag
    assert clean[file_name(29)] == ["boat", "person"]


def test_images_without_a_voc_class_in_their_captions_are_left_out_even_with_voc_objects(
    coco, tmp_path
):
    conversion = run(coco, tmp_path / "IDW")
    assert (conversion.left_out, conversion.left_out_with_voc_objects) == (5, 1)
    assert file_name(30) not in {i.file_name for i in conversion.written}  # kite, small person
    without = run(coco, tmp_path / "plain", instances=False)
    assert [i.file_name for i in without.written] == [i.file_name for i in conversion.written]
    assert without.left_out_with_voc_objects is None
    assert not (tmp_path / "plain" / "clean_tags.jsonl").exists()


def test_copy_option_copies_the_images(coco, tmp_path):
    run(coco, tmp_path / "IDW", copy=True)
    image = tmp_path / "IDW" / "images" / file_name(0)
    assert not image.is_symlink()
    assert image.read_bytes() == (coco / "train2017" / file_name(0)).read_bytes()


def test_converting_again_replaces_the_earlier_links(coco, tmp_path):
    run(coco, tmp_path / "IDW", copy=True)
    run(coco, tmp_path / "IDW")
    assert (tmp_path / "IDW" / "images" / file_name(0)).is_symlink()


def test_command_prints_what_it_wrote_and_the_noise_of_the_caption_tags(coco, tmp_path, capsys):
    assert main(arguments(coco, tmp_path / "IDW")) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"wrote 27 images to {tmp_path / 'IDW'}; left out 5 whose captions name no VOC class, "
        "1 of them with VOC objects in instances\n"
    )
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:23]}
    assert rows["chair"] == ["4", "0", "0.0", "-"]  # chairs under people are never named
    assert rows["pottedplant"] == ["2", "2", "50.0", "50.0"]  # a giraffe's "plants"
    assert rows["person"] == ["20", "17", "85.0", "100.0"]
    assert out.rstrip().endswith(FIXTURE_NOISE)


def test_docs_report_the_measured_noise_of_the_fixture():
    assert FIXTURE_NOISE.replace(" tags\nper", " tags per") in (
        (REPO / "docs" / "DATA.md").read_text().replace("\n", " ")
    )


def test_command_without_instances_prints_no_noise(coco, tmp_path, capsys):
    assert main(arguments(coco, tmp_path / "IDW", instances=False)) == 0
    out = capsys.readouterr().out
    assert (
        out
        == f"wrote 27 images to {tmp_path / 'IDW'}; left out 5 whose captions name no VOC class\n"
    )


def write_json(path: Path, content) -> Path:
    path.write_text(json.dumps(content) if not isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    ("which", "content", "message"),
    [
        ("captions", None, r"captions_train2017\.json does not exist; expected COCO's captions"),
        ("captions", "{not json", r"captions_train2017\.json: not valid JSON .*COCO's captions"),
        ("captions", [1, 2], r"captions_train2017\.json: not COCO's captions file; expected an"),
        ("captions", {"images": [], "annotations": {}}, r"lists 'images', 'annotations'$"),
        (
            "captions",
            {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1}]},
            r'captions_train2017\.json: annotations\[0\]: expected an object with "image_id" '
            r'\(int\), "caption" \(str\)',
        ),
        (
            "captions",
            {"images": [{"id": 1, "file_name": "../a.jpg"}], "annotations": []},
            r"image 1: file_name '\.\./a\.jpg' is not a file name",
        ),
        (
            "captions",
            {"images": [], "annotations": [{"image_id": 7, "caption": "a dog"}]},
            r"annotations\[0\]: image_id 7 is not in its images",
        ),
        ("instances", "captions", r"instances_train2017\.json: not COCO's instances file"),
        (
            "instances",
            {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]},
            r"not COCO's 80 categories: no category named airplane, bicycle",
        ),
    ],
)
def test_bad_coco_files_are_refused_in_one_line_naming_the_file(
    coco, tmp_path, capsys, which, content, message
):
    path = coco / "annotations" / f"{which}_train2017.json"
    if content is None:
        path.unlink()
    elif content == "captions":
        path.write_text(json.dumps(coco_files(IMAGES)[0]))
    else:
        write_json(path, content)
    with pytest.raises(DataError, match=message):
        run(coco, tmp_path / "IDW")
    assert main(arguments(coco, tmp_path / "IDW")) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}")
    assert err.count("\n") == 1


def test_instances_of_another_split_are_refused(coco, tmp_path):
    instances = coco_files(IMAGES)[1]
    instances["images"] = instances["images"][:-1]
    instances["annotations"] = [a for a in instances["annotations"] if a["image_id"] != 132]
    path = write_json(coco / "annotations" / "instances_train2017.json", instances)
    with pytest.raises(DataError, match=rf"{path}: no image 132 of .*captions_train2017\.json \(1"):
        run(coco, tmp_path / "IDW")


def test_missing_image_is_named_before_anything_is_written(coco, tmp_path):
    (coco / "train2017" / file_name(2)).unlink()
    with pytest.raises(DataError, match=rf"train2017/{file_name(2)} does not exist: image of"):
        run(coco, tmp_path / "IDW")
    assert not (tmp_path / "IDW").exists()


def test_missing_image_folder_and_writing_over_it_are_refused(coco, tmp_path):
    with pytest.raises(DataError, match=r"nowhere does not exist; expected COCO's image folder"):
        convert(coco / "annotations" / "captions_train2017.json", tmp_path / "nowhere", tmp_path)
    os.symlink(coco / "train2017", tmp_path / "images")
    with pytest.raises(DataError, match=r"is the COCO image folder itself; choose another --out"):
        run(coco, tmp_path)


@pytest.mark.slow
def test_dis_seg_coco_runs_as_a_module(coco, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dis_seg.cli.coco", *arguments(coco, tmp_path / "IDW")],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote 27 images")
    assert len(read_jsonl(tmp_path / "IDW" / "annotations.jsonl")) == 27


def test_caption_tags_of_an_image_are_the_union_over_its_captions(tmp_path):
    images = [(["A dog on a lawn.", "A cat on a couch."], ["dog", "cat", "couch"])]
    coco = write_coco(tmp_path / "coco", images)
    conversion = run(coco, tmp_path / "IDW")
    assert conversion.written[0].tags == {"dog", "cat", "sofa"}
