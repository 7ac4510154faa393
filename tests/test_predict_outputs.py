"""``dis-seg-predict`` writes where it may: never over its inputs or files it did not write."""

import os

import pytest

from dis_seg.errors import ConfigError
from dis_seg.runs.predict_manifest import (
    LOCK,
    MANIFEST,
    Manifest,
    check_outputs,
    list_images,
    output_names,
    written_files,
)


@pytest.fixture
def inputs(tmp_path):
    """A folder of two (fake) images."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("a.jpg", "b.png"):
        (folder / name).write_bytes(b"image bytes")
    return folder


@pytest.fixture
def out(tmp_path):
    """An empty output folder."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def check(folder, inputs, overwrite=False, overlays=True):
    images = list_images(inputs).images
    names = output_names(images, overlays=overlays, tags_json=True)
    check_outputs(folder, names, input_dir=inputs, inputs=images, overwrite=overwrite)
    return names


def record(folder, names):
    manifest = Manifest(folder)
    for name in names:
        manifest.record(name)


def test_a_new_output_folder_may_be_written(tmp_path, inputs):
    assert check(tmp_path / "out" / "new", inputs) == [
        "a.png",
        "b.png",
        "overlays/a.png",
        "overlays/b.png",
        "tags.json",
    ]


@pytest.mark.parametrize(
    "output",
    [
        lambda root: root / "inputs",
        lambda root: root / "inputs" / "predictions",
        lambda root: root,
        lambda root: root / "link",
        lambda root: root / "link" / "predictions",
    ],
    ids=["same folder", "inside the inputs", "around the inputs", "a link", "inside a link"],
)
def test_an_output_folder_overlapping_the_inputs_is_refused(tmp_path, inputs, output):
    (tmp_path / "link").symlink_to(inputs)
    with pytest.raises(ConfigError, match=r"output_dir: .* overlaps input_dir .*inputs"):
        check(output(tmp_path), inputs)


def test_an_output_folder_that_is_a_file_is_refused(tmp_path, inputs):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"output_dir: .*file is a file, expected a folder"):
        check(tmp_path / "file", inputs)
    with pytest.raises(ConfigError, match=r"output_dir: .*file is a file, expected a folder"):
        check(tmp_path / "file" / "below", inputs)


def test_a_file_where_the_overlays_folder_belongs_is_refused(out, inputs):
    (out / "overlays").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"output_dir: .*overlays is a file, expected a folder"):
        check(out, inputs)
    check(out, inputs, overlays=False)


def test_a_read_only_output_folder_is_refused_naming_it(tmp_path, inputs):
    read_only = tmp_path / "read_only"
    read_only.mkdir(mode=0o555)
    if os.access(read_only, os.W_OK):
        pytest.skip("this process may write into read-only folders (root)")
    for folder in (read_only, read_only / "new"):
        with pytest.raises(ConfigError, match=rf"output_dir: cannot write into {read_only} "):
            check(folder, inputs)


def test_a_file_predict_did_not_write_is_never_replaced(out, inputs):
    (out / "a.png").write_text("the user's own file")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match=r"output_dir: .*a.png exists and was not written"):
            check(out, inputs, overwrite=overwrite)


def test_earlier_predictions_are_replaced_only_with_overwrite(out, inputs):
    record(out, check(out, inputs))
    (out / "a.png").write_text("an earlier prediction")
    with pytest.raises(ConfigError, match=r"holds earlier predictions \(a.png\); set overwrite"):
        check(out, inputs)
    check(out, inputs, overwrite=True)


@pytest.mark.parametrize("link", [os.symlink, os.link], ids=["symbolic link", "hard link"])
def test_an_earlier_prediction_that_is_an_input_through_a_link_is_never_replaced(out, inputs, link):
    record(out, check(out, inputs))
    link(inputs / "a.jpg", out / "a.png")
    with pytest.raises(ConfigError, match=r"output_dir: .*a.png is the input .*a.jpg"):
        check(out, inputs, overwrite=True)


def test_a_foreign_manifest_is_refused(out, inputs):
    (out / MANIFEST).write_text('{"files": ["a.png"]}\n')
    with pytest.raises(ConfigError, match=rf"{MANIFEST} is not a manifest that dis-seg-predict"):
        check(out, inputs)


def test_the_manifest_lists_one_file_a_line_each_once(out):
    record(out, ["a.png", "overlays/a.png", "a.png"])
    assert (out / MANIFEST).read_text() == '{"file": "a.png"}\n{"file": "overlays/a.png"}\n'


def test_a_torn_last_line_is_ignored_and_cut_off_before_the_next_line(out):
    (out / MANIFEST).write_text('{"file": "a.png"}\n{"file": "b.p')
    assert written_files(out) == {"a.png"}
    record(out, ["c.png"])
    assert (out / MANIFEST).read_text() == '{"file": "a.png"}\n{"file": "c.png"}\n'


def test_a_lock_file_without_a_manifest_is_refused(out, inputs):
    (out / LOCK).write_text("the user's own file")
    with pytest.raises(ConfigError, match=rf"output_dir: .*{LOCK} exists and was not written"):
        check(out, inputs)


def test_images_that_would_write_one_labelmap_are_refused_naming_both(inputs):
    (inputs / "a.png").write_bytes(b"image bytes")
    with pytest.raises(ConfigError, match=r"input_dir: .*a.jpg and .*a.png would both be"):
        list_images(inputs)


def test_non_images_are_listed_apart(inputs):
    (inputs / "notes.txt").write_text("not an image")
    found = list_images(inputs)
    assert [p.name for p in found.images] == ["a.jpg", "b.png"]
    assert [p.name for p in found.others] == ["notes.txt"]


def test_broken_links_and_link_loops_are_listed_apart(inputs):
    (inputs / "gone.jpg").symlink_to(inputs / "deleted.jpg")
    (inputs / "loop.jpg").symlink_to(inputs / "loop.jpg")
    (inputs / "link.jpg").symlink_to(inputs / "a.jpg")
    found = list_images(inputs)
    assert [p.name for p in found.images] == ["a.jpg", "b.png", "link.jpg"]
    assert {p.name: why for p, why in found.dead_links.items()} == {
        "gone.jpg": "broken link",
        "loop.jpg": "link loop",
    }


def test_a_folder_of_broken_links_is_not_refused_as_one_without_images(tmp_path):
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    assert list(list_images(tmp_path).dead_links) == [tmp_path / "gone.jpg"]
    (tmp_path / "gone.jpg").unlink()
    with pytest.raises(ConfigError, match=r"input_dir: no images in"):
        list_images(tmp_path)
