"""The tables of a device's section of the benchmark report."""

from __future__ import annotations

from collections.abc import Callable

from formatting import factor, mib, ms, ratio, shown, table
from summary import (
    BATCHES,
    COMPILED,
    EAGER,
    METHODS,
    OPTION_NAMES,
    TRAIN_CASES,
    VOC_CASES,
    VOC_GROUP,
    Summary,
    divided,
    known,
    median_seconds,
    peak,
)

TTS = (0, 10, 30)
VOC_TITLE = "VOC shape: training at 321×321, batch 2; a 500×375 image by sliding windows"


def inference(s: Summary) -> str:
    """The inference tables: time per image against DeepLabV3, one step, memory of the steps."""
    variants = s.variants()
    deeplabs = {batch: known(s.deeplab, batch) for batch in BATCHES}
    if not variants and all(value is None for value in deeplabs.values()):
        return "Not measured."
    plains = {batch: known(s.plain, batch) for batch in BATCHES}
    header = ["model", "method", "tts"]
    for batch in BATCHES:
        header += [f"batch {batch}: ms/image", "× tts=0", "× DeepLabV3"]
    header.append("batch 8: peak MiB")
    rows = []
    for method in METHODS:
        for tts in TTS:
            paths = (method, method + COMPILED, method + EAGER)
            for variant in (v for v in paths if v in variants):
                row = ["DIS-ResNet-101", variant, str(tts)]
                for batch in BATCHES:
                    value = known(s.dis, batch, f"{variant}/{tts}")
                    row += [
                        shown(ms, value),
                        shown(ratio, divided(value, plains[batch])),
                        shown(ratio, divided(value, deeplabs[batch])),
                    ]
                rows.append([*row, shown(mib, known(s.dis_peak, 8, f"{variant}/{tts}"))])
    row = ["deeplabv3_resnet101", "", ""]
    for batch, value in deeplabs.items():
        row += [shown(ms, value), shown(ratio, divided(value, plains[batch]))]
        row.append(shown(ratio, divided(value, value)))
    rows.append([*row, shown(mib, known(s.deeplab_peak, 8))])
    parts = [table(header, rows, "lll" + "r" * (len(header) - 3))]
    if variants:
        unit = "image" if not s.cuda else "batch"
        steps = []
        for batch in BATCHES:
            values = [known(s.step, batch, variant, not s.cuda) for variant in variants]
            slower = divided(known(s.step, batch, "autograd"), known(s.step, batch, "fast"))
            steps.append(
                [str(batch), *(shown(ms, value) for value in values), shown(factor, slower)]
            )
        memory = []
        for variant in variants:
            for tts in (1, *TTS[1:]):
                total, added = known(s.steps_peak, 8, f"{variant}/{tts}") or (None, None)
                memory.append([variant, str(tts), shown(mib, total), shown(mib, added)])
        measured = "dis-inference/8" in s.groups
        parts += [
            f"One step of iterative inference, ms per {unit} ((tts=30 − tts=0) / 30):",
            table(["batch", *variants, "autograd ÷ fast"], steps),
            "Peak memory while the steps run (batch 8; the features u1, v1 of the batch are "
            "resident), and what the steps add to the memory resident before them:",
            table(["method", "tts", "peak MiB", "added MiB"], memory, "llrr")
            if measured
            else "Not measured.",
        ]
    return "\n\n".join(parts)


def training(s: Summary) -> str:
    """The training-step table."""
    stage1, deeplab = known(s.train, "DIS stage 1"), known(s.train, "deeplabv3_resnet101")
    rows = []
    for name in TRAIN_CASES:
        runs = known(s.train_runs, name)
        if runs is None:
            rows.append([name, *["–"] * 5])
            continue
        seconds = median_seconds(runs)
        rows.append(
            [
                name,
                f"{seconds:.2f}",
                spread(runs, "{:.2f}".format),
                shown(ratio, divided(seconds, stage1)),
                shown(ratio, divided(seconds, deeplab)),
                mib(peak(runs)),
            ]
        )
    if all(row[1] == "–" for row in rows):
        return "Not measured."
    header = ["training step", "s/step", "range", "× stage 1", "× DeepLabV3", "peak MiB"]
    return table(header, rows)


def voc_shape(s: Summary) -> str:
    """The table of the VOC-shape group: milliseconds and peak memory of each of its cases."""
    if VOC_GROUP not in s.groups:
        return "Not measured."
    rows = []
    for name, case in VOC_CASES.items():
        runs = known(s.runs, VOC_GROUP, case)
        if runs is None:
            rows.append([name, *["–"] * 3])
        else:
            rows.append([name, ms(median_seconds(runs)), spread(runs, ms), mib(peak(runs))])
    return table(["case", "ms", "range", "peak MiB"], rows)


def spread(runs: list[dict], text: Callable[[float], str]) -> str:
    """The fastest and slowest of repetitions, in seconds as ``text`` writes them."""
    values = [run["seconds"] for run in runs]
    return f"{text(min(values))}–{text(max(values))}"


def options(s: Summary) -> str:
    """The speed-options table (on CUDA with the backbone's time of its own)."""
    if not any(key.startswith("options/") for key in s.groups):
        return "Not measured."
    cases = {"fast/0": "tts=0 ms/image", "fast/30": "tts=30 ms/image"}
    if s.cuda:
        cases = {"encode": "encode ms/image", **cases}
    cases["train/step"] = "stage-1 step s"
    header = ["options"]
    for name in cases.values():
        header += [name, "×"]
    rows = []
    for option in s.results["settings"]["options"]:
        row = [OPTION_NAMES[option]]
        for case in cases:
            value, base = known(s.option, option, case), known(s.option, "fp32", case)
            if value is None:
                row += ["–", ""]
            else:
                text = f"{value:.2f}" if case == "train/step" else ms(value)
                row += [text, shown(ratio, divided(value, base))]
        rows.append(row)
    return table(header, rows)


def others(results: dict) -> str:
    """What other processes used during the groups, and the rules the runs kept to."""
    rule = waiting_rule(results)
    for update in results.get("updates", []):
        if any(update[name] != results[name] for name in ("wait", "max_others", "retries")):
            groups = ", ".join(update["groups"])
            rule += f" The later run of {groups} kept to another rule: {waiting_rule(update)}"
    rows = [[key, f"{value:.2f}"] for key, value in results["others"].items()]
    return (
        "Cores used by other processes on average while each group ran (from /proc/stat, this "
        f"run's own processes taken out). {rule}\n\n"
        + (table(["group", "cores"], rows) if rows else "Not measured.")
    )


def waiting_rule(run: dict) -> str:
    """How ``run`` waited for other processes before a group and reran disturbed groups."""
    if run["wait"] > 0:
        return (
            f"Before each group the run waited, at most {run['wait']:.0f} s, until they used "
            f"at most {run['max_others']} cores; a group during which they used more ran "
            f"again (up to {run['retries']} times) and its least disturbed run is kept."
        )
    rule = "The run did not wait for them before a group."
    if run["retries"] > 0:
        rule += (
            f" A group during which they used more than {run['max_others']} cores ran "
            f"again (up to {run['retries']} times) and its least disturbed run is kept."
        )
    return rule
