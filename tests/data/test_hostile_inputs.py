"""Broken, hostile or absurd input files: each a DataError that names the file, in the reader
and through a loader worker, never a crash with an unrelated message."""

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from dis_seg.data import IDWTags, VOCSegmentation
from dis_seg.data.images import MAX_PIXELS
from dis_seg.errors import DataError


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` RGB pixels, with (almost) no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def first_voc_sample(voc_root):
    return VOCSegmentation(voc_root, "val")[0]


def truncate(path, size):
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: truncate(root / "JPEGImages" / "a.jpg", 200), r"a\.jpg: unreadable or trunc"),
        (lambda root: truncate(root / "SegmentationClass" / "a.png", 60), r"a\.png: unreadable"),
        (lambda root: (root / "JPEGImages" / "a.jpg").write_bytes(b""), r"a\.jpg: unreadable"),
        (lambda root: (root / "SegmentationClass" / "a.png").write_bytes(b""), r"a\.png: unread"),
        (
            lambda root: (root / "JPEGImages" / "a.jpg").write_bytes(png_header(10**5, 10**5)),
            r"a\.jpg: .*decompression bomb.*limited to 67,108,864 pixels",
        ),
        (
            lambda root: (root / "JPEGImages" / "a.jpg").write_bytes(png_header(9000, 9000)),
            r"a\.jpg: image of 9000×9000 = 81,000,000 pixels; images are limited to",
        ),
    ],
    ids=["truncated-jpeg", "truncated-png", "empty-jpeg", "empty-png", "bomb", "too-large"],
)
def test_damaged_or_absurd_image_files_name_the_file(voc_root, damage, message):
    damage(voc_root)
    with pytest.raises(DataError, match=message):
        first_voc_sample(voc_root)


def test_size_limit_refuses_before_decoding_a_complete_large_image(voc_root):
    side = int(MAX_PIXELS**0.5) + 1
    Image.new("L", (side, side)).save(voc_root / "JPEGImages" / "a.jpg", format="PNG")
    with pytest.raises(DataError, match=rf"{side}×{side} = .* pixels; images are limited"):
        first_voc_sample(voc_root)


@pytest.mark.parametrize(
    ("mode", "save_as", "message"),
    [
        ("I;16", "PNG", "mask has PIL mode 'I;16'; expected an 8-bit index PNG"),
        ("1", "PNG", "mask has PIL mode '1'"),
        ("LA", "PNG", "mask has PIL mode 'LA'"),
        ("RGB", "PNG", "mask is an RGB-coloured image"),
        ("L", "JPEG", "mask is a JPEG, whose lossy compression changes class ids"),
    ],
)
def test_mask_of_wrong_mode_or_format_names_the_file(voc_root, mode, save_as, message):
    path = voc_root / "SegmentationClass" / "a.png"
    Image.new(mode, (8, 6)).save(path, format=save_as)
    with pytest.raises(DataError, match=rf"a\.png: {message}"):
        first_voc_sample(voc_root)


@pytest.mark.parametrize(
    "content",
    [
        '{"image": "x.jpg", "tags": ["person"]}\n{"image": "y.png", "tags": ["caf\xe9"]}\n'.encode(
            "latin-1"
        ),
        bytes(np.random.default_rng(0).integers(128, 256, 300, dtype=np.uint8)),
    ],
    ids=["latin-1", "binary"],
)
def test_jsonl_that_is_not_utf8_names_file_and_line(idw_root, content):
    (idw_root / "annotations.jsonl").write_bytes(content)
    line = 2 if content.startswith(b"{") else 1
    with pytest.raises(DataError, match=rf"annotations\.jsonl:{line}: not UTF-8 text"):
        IDWTags(idw_root)


def test_split_list_that_is_not_utf8_names_the_file(voc_root):
    (voc_root / "ImageSets" / "Segmentation" / "val.txt").write_bytes(b"a\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"val\.txt:2: not UTF-8 text \(byte 0xff\)"):
        first_voc_sample(voc_root)


def test_jsonl_with_a_byte_order_mark_is_read(idw_root):
    path = idw_root / "annotations.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(IDWTags(idw_root)) == 3


def test_symlink_loop_as_a_data_folder_is_named(voc_root):
    (voc_root / "JPEGImages").rename(voc_root / "old")
    os.symlink("JPEGImages", voc_root / "JPEGImages")
    with pytest.raises(DataError, match=r"JPEGImages is a symbolic link loop; expected this"):
        first_voc_sample(voc_root)


def test_symlink_loop_or_dangling_link_as_a_listed_file_is_named(voc_root, idw_root):
    (voc_root / "JPEGImages" / "a.jpg").unlink()
    os.symlink("a.jpg", voc_root / "JPEGImages" / "a.jpg")
    with pytest.raises(DataError, match=r"val\.txt:1: .*a\.jpg is a symbolic link loop"):
        first_voc_sample(voc_root)
    (idw_root / "images" / "x.jpg").unlink()
    os.symlink("gone.jpg", idw_root / "images" / "x.jpg")
    with pytest.raises(DataError, match=r"x\.jpg is a broken symbolic link \(to gone\.jpg\)"):
        IDWTags(idw_root)


@pytest.mark.parametrize("name", ["/etc/hostname", "../annotations.jsonl"])
def test_jsonl_image_outside_the_image_folder_is_refused(idw_root, name):
    (idw_root / "annotations.jsonl").write_text(f'{{"image": "{name}", "tags": []}}\n')
    with pytest.raises(DataError, match=r'annotations\.jsonl:1: "image" must be a path inside'):
        IDWTags(idw_root)


def test_absurd_image_in_a_loader_worker_reaches_the_caller_naming_the_file(voc_root):
    (voc_root / "JPEGImages" / "a.jpg").write_bytes(png_header(10**5, 10**5))
    loader = DataLoader(VOCSegmentation(voc_root, "val"), num_workers=1, collate_fn=list)
    with pytest.raises(DataError, match=r"a\.jpg: .*images are limited to"):
        next(iter(loader))
