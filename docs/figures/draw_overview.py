"""Draw docs/figures/dis_overview.png: the DIS network and its three training stages.

Run ``python docs/figures/draw_overview.py``.
"""

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

BOXES = {
    "image": ((0.02, 0.62), "image I\n3×H×W", "#dddddd"),
    "backbone": ((0.2, 0.62), "ResNet\n(dilated)", "#c6dbef"),
    "features": ((0.38, 0.62), "u1 D×h×w\nv1 D", "#eeeeee"),
    "subnet1": ((0.56, 0.78), "subnet-1\n3×3 conv → u3", "#9ecae1"),
    "subnet2": ((0.78, 0.78), "subnet-2\n3 convs → z3", "#a1d99b"),
    "subnet3": ((0.56, 0.46), "subnet-3\nfuse, linear → v3", "#fcbba1"),
    "labelmap": ((0.78, 0.62), "labelmap\nC×H×W", "#eeeeee"),
    "tags": ((0.78, 0.46), "tags C", "#eeeeee"),
}
ARROWS = [
    ("image", "backbone"),
    ("backbone", "features"),
    ("features", "subnet1"),
    ("features", "subnet3"),
    ("subnet1", "subnet2"),
    ("subnet1", "labelmap"),
    ("subnet3", "tags"),
]
STAGES = [
    ("stage 1", "backbone + subnet-1 + subnet-3\nlabelmaps (VOC) and tags (all images)", "#c6dbef"),
    ("stage 2", "subnet-2 only, everything else frozen\nreconstruct the image from u3", "#a1d99b"),
    (
        "stage 3",
        "all four; tag-only images get ttr steps\nof iterative inference → pseudo labels",
        "#fcbba1",
    ),
]
WIDTH, HEIGHT = 0.16, 0.12


def right_edge(name: str) -> tuple[float, float]:
    (x, y), _, _ = BOXES[name]
    return x + WIDTH + 0.005, y + HEIGHT / 2


def left_edge(name: str) -> tuple[float, float]:
    (x, y), _, _ = BOXES[name]
    return x - 0.005, y + HEIGHT / 2


def draw(path: Path) -> None:
    figure = Figure(figsize=(10, 5.2))
    FigureCanvasAgg(figure)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.axis("off")
    for (x, y), text, colour in BOXES.values():
        axis.add_patch(FancyBboxPatch((x, y), WIDTH, HEIGHT, boxstyle="round,pad=0.01", fc=colour))
        axis.text(x + WIDTH / 2, y + HEIGHT / 2, text, ha="center", va="center", fontsize=9)
    for start, end in ARROWS:
        axis.annotate("", left_edge(end), right_edge(start), arrowprops={"arrowstyle": "->"})
    axis.annotate(
        "iterative inference: gradient steps on (u1, v1)\n"
        "of ‖z3 − I↓‖² (+ tag loss), weights fixed",
        (0.46, 0.745),
        (0.3, 0.9),
        ha="center",
        fontsize=9,
        color="#31a354",
        arrowprops={"arrowstyle": "->", "color": "#31a354", "connectionstyle": "arc3,rad=0.3"},
    )
    for index, (title, text, colour) in enumerate(STAGES):
        x = 0.03 + index * 0.33
        axis.add_patch(FancyBboxPatch((x, 0.05), 0.28, 0.22, boxstyle="round,pad=0.01", fc=colour))
        axis.text(x + 0.14, 0.22, title, ha="center", fontsize=11, weight="bold")
        axis.text(x + 0.14, 0.11, text, ha="center", va="center", fontsize=8.5)
        if index < 2:
            axis.annotate("", (x + 0.325, 0.16), (x + 0.29, 0.16), arrowprops={"arrowstyle": "->"})
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    draw(Path(__file__).with_name("dis_overview.png"))
