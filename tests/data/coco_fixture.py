"""A small COCO-format data set: 32 images with five captions each, in COCO's style, and
their instance categories (the categories of COCO 2017, with its ids).

The images cover what captions do to tags: small objects left unnamed (a plant behind a
sofa, the chair under a diner), synonyms (couch, tv, jetliner, dirt bike, cattle, kitty),
phrases that hold a class word without the class (hot dog, power plant, laptop screen, chair
lift, train tracks, jet ski, bed sheets, busy), plants that are not potted, and images whose
captions name no VOC class, some with VOC objects in their instances.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

# COCO 2017 categories (id, name) that the images use.
CATEGORIES = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train",
    8: "truck", 9: "boat", 10: "traffic light", 16: "bird", 17: "cat", 18: "dog", 19: "horse",
    20: "sheep", 21: "cow", 25: "giraffe", 34: "frisbee", 35: "skis", 38: "kite",
    42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass", 47: "cup",
    58: "hot dog", 59: "pizza", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant",
    65: "bed", 67: "dining table", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote",
    76: "keyboard", 86: "vase", 88: "teddy bear",
}  # fmt: skip

# (captions, instance categories) per image.
IMAGES: list[tuple[list[str], list[str]]] = [
    (
        [
            "A woman riding a brown horse across a field.",
            "A rider on horseback jumps over a fence.",
            "A person on a horse in an equestrian competition.",
            "The horse and its rider clear the hurdle.",
            "A girl is riding a horse over an obstacle.",
        ],
        ["person", "horse"],
    ),
    (
        [
            "A man holding a hot dog with mustard on it.",
            "A guy eating a hot dog at a picnic table.",
            "Someone holding up a hot dog in a bun.",
            "A hot dog with ketchup next to a bottle of soda.",
            "A person about to take a bite of a hotdog.",
        ],
        ["person", "hot dog", "bottle", "dining table"],
    ),
    (
        [
            "A red and white train traveling down the tracks.",
            "A passenger train pulling into a station.",
            "An electric locomotive pulling several train cars.",
            "A commuter train on the railroad tracks.",
            "A long train coming around the bend.",
        ],
        ["train"],
    ),
    (
        [
            "A city street with traffic lights and a truck.",
            "A truck stopped at an intersection.",
            "A delivery truck waiting at a red light.",
            "An intersection with a large truck and street signs.",
            "A truck driving down a busy street.",
        ],
        ["truck", "traffic light"],
    ),
    (
        [
            "A man sitting on a couch watching tv.",
            "A person relaxing on a sofa in front of a television.",
            "A living room with a couch and a flat screen tv.",
            "A guy holding a remote while sitting on a couch.",
            "A man on a couch playing video games.",
        ],
        ["person", "couch", "tv", "remote", "potted plant"],
    ),
    (
        [
            "A woman typing on a laptop at a desk.",
            "A person working on a laptop computer.",
            "A laptop screen shows a spreadsheet as a woman works.",
            "A girl using her laptop next to a cup of coffee.",
            "A lady sitting at a desk with a laptop.",
        ],
        ["person", "laptop", "cup", "chair"],
    ),
    (
        [
            "A dog jumping to catch a frisbee.",
            "A black and white dog leaps for a frisbee in the park.",
            "A border collie catching a flying disc.",
            "A dog in mid air catching a frisbee.",
            "A man throws a frisbee for his dog.",
        ],
        ["dog", "frisbee", "person"],
    ),
    (
        [
            "A large passenger airplane parked at an airport gate.",
            "An airplane on the tarmac being loaded with luggage.",
            "A jetliner sits at the gate as workers load it.",
            "A commercial jet parked near the terminal.",
            "A white plane waiting on the runway.",
        ],
        ["airplane", "person", "truck"],
    ),
    (
        [
            "A man riding a motorcycle down a dirt road.",
            "A motorcyclist on a dirt bike in the woods.",
            "A person riding a dirt bike on a trail.",
            "A rider in a helmet on a motor bike.",
            "A man on a motorbike kicks up dust.",
        ],
        ["person", "motorcycle"],
    ),
    (
        [
            "A man riding a bike down a city street.",
            "A cyclist rides past parked cars.",
            "A person on a bicycle next to a line of cars.",
            "A bicyclist pedals along the road.",
            "A man on a bike passes a parked car.",
        ],
        ["person", "bicycle", "car"],
    ),
    (
        [
            "A cat laying on top of a bed.",
            "An orange tabby cat sleeping on a blanket.",
            "A kitty curled up on the comforter.",
            "A cat napping on a bed with white sheets.",
            "A fluffy cat resting on a bed.",
        ],
        ["cat", "bed"],
    ),
    (
        [
            "A sheep dog herding a flock of sheep.",
            "A herd of sheep being rounded up by a dog.",
            "A farmer and his dog moving sheep across a field.",
            "Sheep running across a pasture chased by a collie.",
            "A dog guiding sheep into a pen.",
        ],
        ["sheep", "dog", "person"],
    ),
    (
        [
            "A herd of cattle grazing in a green pasture.",
            "Cows standing in a grassy field.",
            "Several cows eating grass near a fence.",
            "Brown and white cows in a meadow.",
            "A group of cattle out in the countryside.",
        ],
        ["cow"],
    ),
    (
        [
            "A small boat on a lake with birds flying overhead.",
            "A fishing boat sits in the calm water.",
            "Seagulls fly over a boat in the harbor.",
            "A row boat tied to a dock.",
            "A wooden boat floating on the water.",
        ],
        ["boat", "bird", "person"],
    ),
    (
        [
            "A family sitting at a table eating pizza.",
            "People gathered around a dining table with pizzas.",
            "A group of people sharing a pizza at a restaurant.",
            "Kids eating pizza at a kitchen table.",
            "Friends enjoy a meal of pizza together.",
        ],
        ["dining table", "pizza", "person", "bottle", "cup", "chair"],
    ),
    (
        [
            "A potted plant sitting on a window sill.",
            "A green houseplant in a clay pot by the window.",
            "A plant in a pot next to a window.",
            "A small plant sitting on the ledge of a window.",
            "A window sill with a plant and a vase.",
        ],
        ["potted plant", "vase"],
    ),
    (
        [
            "Smoke rising from the stacks of a power plant.",
            "A power plant next to a river at dusk.",
            "Tall smoke stacks of an industrial plant.",
            "A factory with smoke coming out of chimneys.",
            "A large power station by the water.",
        ],
        [],
    ),
    (
        [
            "A giraffe eating leaves from a tall tree.",
            "A giraffe standing next to some plants at the zoo.",
            "A tall giraffe reaching for branches.",
            "A giraffe in its enclosure near green plants.",
            "A giraffe grazing on the leaves of a tree.",
        ],
        ["giraffe"],
    ),
    (
        [
            "A skier going down a snowy slope.",
            "A person skiing down a mountain.",
            "A man on skis racing downhill.",
            "A skier in a red jacket on the snow.",
            "Someone skiing on a sunny day.",
        ],
        ["person", "skis"],
    ),
    (
        [
            "A chair lift carrying skiers up the mountain.",
            "Skiers riding a ski lift over the snow.",
            "People on a chairlift above the slopes.",
            "A ski lift with several people on it.",
            "Two skiers sit on a lift going up.",
        ],
        ["person"],
    ),
    (
        [
            "A double decker bus driving down the street.",
            "A red double-decker bus in London traffic.",
            "A city bus with passengers stopping at a bus stop.",
            "A tour bus parked on the side of the road.",
            "A big red bus next to a black car.",
        ],
        ["bus", "person", "car"],
    ),
    (
        [
            "A bird perched on a tree branch.",
            "A small bird sitting on a limb.",
            "A sparrow resting on a branch.",
            "A little brown bird in a tree.",
            "A bird sits on a thin twig.",
        ],
        ["bird"],
    ),
    (
        [
            "A tennis player swinging a racket at a ball.",
            "A man hitting a tennis ball with his racket.",
            "A woman playing tennis on a clay court.",
            "A player reaches for the ball during a match.",
            "A tennis player in white serving the ball.",
        ],
        ["person", "tennis racket"],
    ),
    (
        [
            "A desk with a computer monitor and a keyboard.",
            "A computer setup with two monitors.",
            "A desktop computer on a wooden desk.",
            "A keyboard and mouse in front of a computer screen.",
            "An office desk with a monitor and a lamp.",
        ],
        ["tv", "keyboard", "mouse", "chair"],
    ),
    (
        [
            "Two women toasting with glasses of wine.",
            "A couple of ladies drinking wine at a table.",
            "Women sitting at a table with a bottle of wine.",
            "Two friends sharing a bottle of red wine.",
            "Ladies enjoying wine at a restaurant.",
        ],
        ["person", "bottle", "wine glass", "dining table"],
    ),
    (
        [
            "A teddy bear sitting on a shelf.",
            "A brown stuffed bear on a bookcase.",
            "A stuffed animal sitting on a wooden shelf.",
            "A fuzzy teddy bear with a red bow.",
            "A toy bear sits among some books.",
        ],
        ["teddy bear"],
    ),
    (
        [
            "A little girl blowing out candles on a birthday cake.",
            "A child sitting at a table with a birthday cake.",
            "A young girl celebrating her birthday with a cake.",
            "A kid about to blow out the candles.",
            "A girl smiling in front of her birthday cake.",
        ],
        ["person", "cake", "dining table", "chair"],
    ),
    (
        [
            "A man riding a wave on top of a surfboard.",
            "A surfer riding a large wave in the ocean.",
            "A person on a surfboard catching a wave.",
            "A surfer in a wetsuit rides a wave.",
            "A man surfing on a big wave.",
        ],
        ["person", "surfboard"],
    ),
    (
        [
            "A dog sticking its head out of a car window.",
            "A happy dog riding in the back seat of a car.",
            "A dog looking out the window of a moving car.",
            "A brown dog with its head out the car window.",
            "A puppy enjoying a car ride.",
        ],
        ["dog", "car", "person"],
    ),
    (
        [
            "A man riding a jet ski across the water.",
            "A person on a jet ski in the ocean.",
            "A jet ski speeding across a lake.",
            "A man on a personal watercraft making waves.",
            "Someone riding a jet ski on a sunny day.",
        ],
        ["person", "boat"],
    ),
    (
        [
            "A kite flying high in a blue sky.",
            "A colorful kite soaring in the air.",
            "A large kite flying over the beach.",
            "A kite in the sky on a windy day.",
            "A rainbow kite against the clouds.",
        ],
        ["kite", "person"],
    ),
    (
        [
            "Train tracks running through a quiet countryside.",
            "Empty train tracks under a cloudy sky.",
            "A set of railroad tracks next to a field.",
            "Train tracks curving into the distance.",
            "Old train tracks covered with gravel.",
        ],
        [],
    ),
]


def file_name(index: int) -> str:
    return f"{101 + index:012d}.jpg"


def coco_files(images: list[tuple[list[str], list[str]]]) -> tuple[dict, dict]:
    """The captions and instances files (as objects) of ``images``."""
    info = {"description": "dis-seg COCO fixture", "version": "1.0", "year": 2017}
    entries = [
        {"id": 101 + i, "file_name": file_name(i), "height": 8, "width": 8, "license": 1}
        for i in range(len(images))
    ]
    captions = [
        {"image_id": 101 + i, "id": 1000 + 10 * i + j, "caption": caption}
        for i, (texts, _) in enumerate(images)
        for j, caption in enumerate(texts)
    ]
    ids = {name: category_id for category_id, name in CATEGORIES.items()}
    instances = [
        {"image_id": 101 + i, "id": 5000 + 10 * i + j, "category_id": ids[name], "iscrowd": 0,
         "area": 4.0, "bbox": [1.0, 1.0, 2.0, 2.0], "segmentation": [[1, 1, 3, 1, 3, 3, 1, 3]]}
        for i, (_, names) in enumerate(images)
        for j, name in enumerate(names)
    ]  # fmt: skip
    categories = [
        {"supercategory": "thing", "id": category_id, "name": name}
        for category_id, name in CATEGORIES.items()
    ]
    common = {"info": info, "licenses": [{"id": 1, "name": "CC BY 4.0"}], "images": entries}
    return (
        {**common, "annotations": captions},
        {**common, "annotations": instances, "categories": categories},
    )


def write_coco(root: Path, images: list[tuple[list[str], list[str]]] = IMAGES) -> Path:
    """``root/train2017/<file>.jpg`` (8×8 images) and ``root/annotations/{captions,instances}_
    train2017.json``; returns ``root``."""
    (root / "train2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    rng = np.random.default_rng(0)
    for i in range(len(images)):
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "train2017" / file_name(i))
    captions, instances = coco_files(images)
    for name, content in (("captions", captions), ("instances", instances)):
        (root / "annotations" / f"{name}_train2017.json").write_text(json.dumps(content))
    return root
