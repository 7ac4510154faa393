import numpy as np
import pytest
import torch

from dis_seg.data import VOC_CLASSES, tags_from_description
from dis_seg.data.tags import VOC_VOCABULARY, tags_from_labelmap, tags_to_multi_hot
from dis_seg.errors import DataError


def test_voc_classes_are_background_then_the_20_voc_classes_in_order():
    assert len(VOC_CLASSES) == 21
    assert VOC_CLASSES[0] == "background"
    assert VOC_CLASSES[1:4] == ("aeroplane", "bicycle", "bird")
    assert VOC_CLASSES[15] == "person"
    assert VOC_CLASSES[-1] == "tvmonitor"


def test_description_matches_class_names_case_insensitively():
    assert tags_from_description("A CAT next to a Dog and a bottle") == {"cat", "dog", "bottle"}


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("two men on a bench", "person"),
        ("women dancing", "person"),
        ("people everywhere", "person"),
        ("a child", "person"),
        ("children playing", "person"),
        ("an old motorcycle", "motorbike"),
        ("airplane at the gate", "aeroplane"),
        ("planes in the sky", "aeroplane"),
        ("my bike", "bicycle"),
        ("bicycles for rent", "bicycle"),
        ("TV on the wall", "tvmonitor"),
        ("an old monitor", "tvmonitor"),
        ("watching television", "tvmonitor"),
        ("cat on the couch", "sofa"),
        ("a dining table set for two", "diningtable"),
        ("a dining-table", "diningtable"),
        ("potted plant by the window", "pottedplant"),
        ("cows grazing", "cow"),
        ("two buses", "bus"),
        ("sheep on a hill", "sheep"),
        ("puppies", "dog"),
    ],
)
def test_description_maps_synonyms_and_plurals_to_the_class(text, tag):
    assert tag in tags_from_description(text)


@pytest.mark.parametrize(
    "text", ["a catalogue of dogma", "cartoon carpet", "scattered busy bicyclesque", "category"]
)
def test_description_matches_whole_words_only(text):
    assert tags_from_description(text) == set()


def test_description_uses_a_configured_vocabulary():
    vocabulary = {"vehicle": ("car", "truck"), "animal": ("dog",)}
    assert tags_from_description("trucks and a dog", vocabulary) == {"vehicle", "animal"}


def test_multi_hot_sets_background_and_named_classes():
    tags = tags_to_multi_hot(["cat", "person"], VOC_CLASSES)
    assert tags.dtype == torch.float32
    assert tags.nonzero().flatten().tolist() == [0, 8, 15]


def test_unknown_tag_is_named_with_the_valid_ones():
    with pytest.raises(DataError, match=r"ann.jsonl:3: unknown tag 'kitty'.*aeroplane, bicycle"):
        tags_to_multi_hot(["kitty"], VOC_CLASSES, where="ann.jsonl:3")


def test_labelmap_tags_list_present_classes_and_ignore_255():
    labelmap = np.array([[255, 3], [3, 20]], dtype=np.uint8)
    assert tags_from_labelmap(labelmap, 21).nonzero().flatten().tolist() == [0, 3, 20]


def test_labelmap_tags_refuse_class_ids_beyond_the_classes():
    with pytest.raises(ValueError, match="class id 7; expected 0..3 or 255"):
        tags_from_labelmap(np.array([[0, 7], [255, 2]], dtype=np.uint8), num_classes=4)


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("A man on a couch watching tv.", {"person", "sofa", "tvmonitor"}),
        ("A jetliner parked at the gate.", {"aeroplane"}),
        ("A motorcyclist on a dirt bike.", {"motorbike"}),
        ("A red double-decker bus.", {"bus"}),
        ("Skiers and a snowboarder on the slope.", {"person"}),
        ("A herd of cattle and a tabby kitty.", {"cow", "cat"}),
        ("A couple on a loveseat.", {"sofa"}),
        ("A border collie catching a frisbee.", {"dog"}),
    ],
)
def test_coco_caption_words_name_their_classes(text, tags):
    assert tags_from_description(text) == tags


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("A sheep dog herding sheep.", {"dog", "sheep"}),
        ("A sheep dog in a field.", {"dog"}),
        ("A locomotive pulling several train cars.", {"train"}),
        ("A man riding a dirt bike.", {"person", "motorbike"}),
        ("A pit bull next to a bull.", {"dog", "cow"}),
    ],
)
def test_the_longest_phrase_at_a_place_names_the_class(text, tags):
    assert tags_from_description(text) == tags


@pytest.mark.parametrize(
    "text",
    [
        "Two hot dogs with mustard.",
        "Smoke rising from a power plant.",
        "Empty train tracks in the countryside.",
        "A laptop screen shows a spreadsheet.",
        "A chair lift over the snow.",
        "A jet ski speeding across a lake.",
        "A cat sleeping on white sheets.",
        "A truck on a busy street.",
        "A laptop on a desk.",
    ],
)
def test_phrases_that_hold_a_class_word_without_the_class_name_none(text):
    assert tags_from_description(text) - {"cat", "person"} == set()


def test_every_vocabulary_phrase_names_its_own_class_alone():
    for name, phrases in VOC_VOCABULARY.items():
        for phrase in phrases:
            for text in (f"a {phrase}", f"two {phrase}s", f"a {phrase.replace(' ', '-')}"):
                assert tags_from_description(text) == {name}, text
