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
