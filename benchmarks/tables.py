"""The tables of a device's section of the benchmark report."""

from __future__ import annotations

from formatting import factor, mib, ms, ratio, shown, table
from summary import (
    BATCHES,
    COMPILED,
    EAGER,
    METHODS,
    OPTION_NAMES,
    TRAIN_CASES,
    Summary,
    divided,
    known,
    median_seconds,
    peak,
)

TTS = (0, 10, 30)


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
        seconds, values = median_seconds(runs), [run["seconds"] for run in runs]
        rows.append(
            [
                name,
                f"{seconds:.2f}",
                f"{min(values):.2f}–{max(values):.2f}",
                shown(ratio, divided(seconds, stage1)),
                shown(ratio, divided(seconds, deeplab)),
                mib(peak(runs)),
            ]
        )
    if all(row[1] == "–" for row in rows):
        return "Not measured."
    header = ["training step", "s/step", "range", "× stage 1", "× DeepLabV3", "peak MiB"]
    return table(header, rows)


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
    """What other processes used during the groups, and the rule the run kept to."""
    if results["wait"] > 0:
        rule = (
            f"Before each group the run waited, at most {results['wait']:.0f} s, until they used "
            f"at most {results['max_others']} cores; a group during which they used more ran "
            f"again (up to {results['retries']} times) and its least disturbed run is kept."
        )
    else:
        rule = "The run did not wait for them before a group."
        if results["retries"] > 0:
            rule += (
                f" A group during which they used more than {results['max_others']} cores ran "
                f"again (up to {results['retries']} times) and its least disturbed run is kept."
            )
    rows = [[key, f"{value:.2f}"] for key, value in results["others"].items()]
    return (
        "Cores used by other processes on average while each group ran (from /proc/stat, this "
        f"run's own processes taken out). {rule}\n\n"
        + (table(["group", "cores"], rows) if rows else "Not measured.")
    )
