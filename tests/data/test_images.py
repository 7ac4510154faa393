import numpy as np
import pytest
from PIL import Image

from dis_seg.data.images import read_labelmap, read_rgb, voc_palette, write_labelmap
from dis_seg.errors import DataError


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA", "P", "I;16"])
def test_images_of_any_mode_are_read_as_rgb_uint8(tmp_path, mode):
    path = tmp_path / ("image.jpg" if mode == "CMYK" else "image.png")
    Image.new("RGB", (5, 3), (200, 100, 50)).convert(mode).save(path)
    pixels = read_rgb(path)
    assert pixels.shape == (3, 5, 3)
    assert pixels.dtype == np.uint8


@pytest.mark.parametrize(
    ("name", "mode"),
    [("image.png", "I;16"), ("image.tif", "I;16"), ("image.tif", "I;16B"), ("image.pgm", "I")],
    ids=["16-bit PNG", "16-bit TIFF", "16-bit big-endian TIFF", "16-bit PGM"],
)
def test_16_bit_images_are_scaled_to_8_bits(tmp_path, name, mode):
    pixels = np.arange(0, 65536, 1024, dtype=np.uint16).reshape(4, 16)
    path = tmp_path / name
    if mode == "I":  # Pillow writes no 16-bit PGM, and reads one as mode I
        path.write_bytes(b"P5 16 4 65535\n" + pixels.astype(">u2").tobytes())
    else:
        byte_order = ">" if mode.endswith("B") else "<"
        Image.frombytes(mode, (16, 4), pixels.astype(f"{byte_order}u2").tobytes()).save(path)
    with Image.open(path) as image:
        assert image.mode == mode
    np.testing.assert_array_equal(read_rgb(path), np.repeat((pixels >> 8)[..., None], 3, axis=2))


def test_a_float_image_is_refused_naming_it(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)).save(path)
    with pytest.raises(DataError, match=r"float\.tif: floating-point pixels \(PIL mode 'F'\)"):
        read_rgb(path)


def test_exif_orientation_is_ignored(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("RGB", (8, 4)).save(path, exif=exif)
    assert read_rgb(path).shape == (4, 8, 3)


def test_truncated_image_names_the_file(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DataError, match=r"cut\.jpg: unreadable or truncated image"):
        read_rgb(path)


def test_labelmap_round_trips_through_a_voc_palette_png(tmp_path):
    labelmap = np.array([[0, 1, 20], [255, 15, 0]], dtype=np.uint8)
    write_labelmap(tmp_path / "m.png", labelmap)
    with Image.open(tmp_path / "m.png") as image:
        assert image.mode == "P"
        assert image.getpalette()[:6] == [0, 0, 0, 128, 0, 0]
    np.testing.assert_array_equal(read_labelmap(tmp_path / "m.png", 21, (2, 3)), labelmap)


def test_voc_palette_matches_the_voc_colour_map():
    palette = voc_palette()
    assert palette[15].tolist() == [192, 128, 128]  # person
    assert palette[255].tolist() == [224, 224, 192]  # ignore border
