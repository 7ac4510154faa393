"""``make bench``: DIS against torchvision's DeepLabV3 on this machine → docs/BENCHMARKS.md.

    python benchmarks/bench.py [--quick] [--device cpu|cuda] [--threads N] [--render-only]

Runs every group of ``benchmarks/measure.py`` in a fresh process (one model per process, so a
peak memory is that of its case), then ``benchmarks/bench_loader.py``, and stores the results
of this device kind in ``benchmarks/results/<cpu|cuda>.json``. The report is rendered from all
stored results, so a CPU run keeps the section of an earlier GPU run and vice versa.
``--quick`` takes one repetition of everything and leaves ``torch.compile`` out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torchvision

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPORT = HERE.parent / "docs" / "BENCHMARKS.md"
BATCHES = (1, 8)
TTS = (0, 10, 30)
METHODS = ("fast", "autograd")
TRAIN_GROUPS = ("stage1", "stage3", "deeplab")
# training step name → (group, case)
TRAIN_CASES = {
    "DIS stage 1": ("stage1", "step"),
    "DIS stage 3, ttr=0": ("stage3", "ttr0"),
    "DIS stage 3, ttr=30": ("stage3", "ttr30"),
    "deeplabv3_resnet101": ("deeplab", "step"),
}
OPTION_NAMES = {
    "fp32": "fp32 (default)",
    "cudnn_benchmark": "cudnn benchmark",
    "channels_last": "channels_last",
    "bf16": "bf16 autocast",
    "channels_last+bf16": "channels_last + bf16 autocast",
    "compile": "torch.compile of the backbone",
}
PAPER_MS_PER_IMAGE = 140
MIB = 2**20


def settings(device: str, quick: bool) -> dict:
    """Repetitions and batch sizes; a CPU trains and compares options on smaller batches."""
    cpu = device == "cpu"
    return {
        "quick": quick,
        "reps": dict.fromkeys(("batch1", "batch8", "train", "options"), 1)
        if quick
        else {"batch1": 5, "batch8": 3, "train": 3, "options": 3},
        "train_batch": 4 if cpu else 8,
        "options_batch": 1 if cpu else 8,
        "options": [
            option
            for option in OPTION_NAMES
            if (option != "cudnn_benchmark" or not cpu) and (option != "compile" or not quick)
        ],
        # a CPU times training steps under three options only, to keep `make bench` short
        "options_trained": ["fp32", "channels_last", "bf16"] if cpu else list(OPTION_NAMES),
    }


def plan(config: dict) -> list[tuple[str, list[str]]]:
    """(result key, ``measure.py`` arguments) of every group, in running order."""
    reps = config["reps"]
    groups = []
    for batch in BATCHES:
        for group in ("dis-inference", "deeplab-inference"):
            arguments = [group, f"--batch={batch}", f"--reps={reps[f'batch{batch}']}"]
            groups.append((f"{group}/{batch}", arguments))
    for group in TRAIN_GROUPS:
        arguments = [
            f"train-{group}",
            f"--batch={config['train_batch']}",
            f"--reps={reps['train']}",
        ]
        groups.append((f"train-{group}", arguments))
    for option in config["options"]:
        arguments = [
            "options",
            f"--option={option}",
            f"--batch={config['options_batch']}",
            f"--train-batch={config['train_batch']}",
            f"--reps={reps['options']}",
        ]
        if option not in config["options_trained"]:
            arguments.append("--no-train")
        groups.append((f"options/{option}", arguments))
    return groups


def machine(device: str, threads: int) -> dict:
    """The hardware and software the numbers belong to."""
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = [line.split(":", 1) for line in cpuinfo.read_text().splitlines() if ":" in line]
        fields = {key.strip(): value.strip() for key, value in lines}
        bf16 = [flag for flag in ("avx512_bf16", "amx_bf16") if flag in fields["flags"].split()]
        cpu = f"{fields['model name']} (family {fields['cpu family']}, model {fields['model']}"
        cpu += f"; {', '.join(bf16)})" if bf16 else ")"
    meminfo = Path("/proc/meminfo")
    memory = meminfo.read_text().split()[1] if meminfo.is_file() else None
    description = {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(memory) / 2**20, 1) if memory else None,
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    if device == "cuda":
        description["gpu"] = torch.cuda.get_device_name(0)
        description["cuda"] = torch.version.cuda
        description["cudnn"] = torch.backends.cudnn.version()
    return description


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by all processes (/proc/stat) and by this one's children."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split()[1:9]]
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy / os.sysconf("SC_CLK_TCK"), children.ru_utime + children.ru_stime


def others_cores(seconds: float = 5.0) -> float:
    """Cores other processes use, sampled over ``seconds`` while this run is idle."""
    busy, ours = cpu_seconds()
    time.sleep(seconds)
    busy_after, ours_after = cpu_seconds()
    return max(0.0, busy_after - busy - (ours_after - ours)) / seconds


def wait_for_quiet(max_others: float, wait: float) -> None:
    """Wait, at most ``wait`` seconds, until other processes use at most ``max_others`` cores."""
    deadline = time.monotonic() + wait
    while (cores := others_cores()) > max_others and time.monotonic() < deadline:
        print(f"  waiting: other processes use {cores:.2f} cores", flush=True)
        time.sleep(20)


def run_group(arguments: list[str], device: str, threads: int) -> tuple[dict, float]:
    """One ``measure.py`` group in a fresh process: its JSON output, and how many cores other
    processes used meanwhile (on average)."""
    command = [sys.executable, str(HERE / "measure.py"), *arguments, f"--device={device}"]
    command.append(f"--threads={threads}")
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    (busy, ours), start = cpu_seconds(), time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    wall, (busy_after, ours_after) = time.perf_counter() - start, cpu_seconds()
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    others = max(0.0, busy_after - busy - (ours_after - ours)) / wall
    return json.loads(result.stdout.splitlines()[-1]), others


def run_loader(quick: bool) -> str:
    """``bench_loader.py`` at the benchmark's crop size; its Markdown table."""
    command = [sys.executable, str(HERE / "bench_loader.py"), "--size=400", "--crop-size=321"]
    command += ["--batch-size=8", f"--epochs={1 if quick else 2}"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def measure(
    device: str, threads: int, quick: bool, max_others: float, wait: float, retries: int
) -> dict:
    """Every group and the loader, with the machine, settings and load around them.

    Each group waits (at most ``wait`` seconds) for other processes to use at most
    ``max_others`` cores and records how many they used while it ran; if more, it runs again
    (up to ``retries`` times) and the least disturbed run is kept.
    """
    config = settings(device, quick)
    started, load_before = time.time(), os.getloadavg()
    groups, others = {}, {}
    for key, arguments in plan(config):
        for _ in range(retries + 1):
            wait_for_quiet(max_others, wait)
            cases, cores = run_group(arguments, device, threads)
            print(f"{key}: other processes used {cores:.2f} cores", flush=True)
            if key not in others or cores < others[key]:
                groups[key], others[key] = cases, round(cores, 2)
            if cores <= max_others:
                break
    print("data loader ...", flush=True)
    loader = run_loader(quick)
    return {
        "device": device,
        "machine": machine(device, threads),
        "settings": config,
        "date": datetime.date.today().isoformat(),
        "minutes": round((time.time() - started) / 60, 1),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "groups": groups,
        "others": others,
        "max_others": max_others,
        "wait": wait,
        "retries": retries,
        "loader": loader,
    }


class Summary:
    """The numbers of the report, derived from one device's results."""

    def __init__(self, results: dict) -> None:
        self.results = results
        self.groups = results["groups"]

    def dis(self, batch: int, case: str) -> float:
        """Seconds per image of encode + ``case`` (``method/tts``), median over repetitions."""
        group = self.groups[f"dis-inference/{batch}"]
        pairs = zip(group["encode"], group[case], strict=True)
        return statistics.median(e["seconds"] + c["seconds"] for e, c in pairs) / batch

    def plain(self, batch: int) -> float:
        """The plain prediction (tts=0), the cheaper of the two methods."""
        return min(self.dis(batch, f"{method}/0") for method in METHODS)

    def encode(self, batch: int) -> float:
        return median_seconds(self.groups[f"dis-inference/{batch}"]["encode"]) / batch

    def deeplab(self, batch: int) -> float:
        return median_seconds(self.groups[f"deeplab-inference/{batch}"]["forward"]) / batch

    def step(self, batch: int, method: str) -> float:
        """Seconds per step and image: (tts=30 − tts=0) / 30, median over repetitions."""
        group = self.groups[f"dis-inference/{batch}"]
        pairs = zip(group[f"{method}/30"], group[f"{method}/0"], strict=True)
        return statistics.median((a["seconds"] - b["seconds"]) / 30 for a, b in pairs) / batch

    def dis_peak(self, batch: int, case: str) -> float:
        """Peak memory of the whole inference: the encode's or the steps', whichever is more."""
        group = self.groups[f"dis-inference/{batch}"]
        return max(peak(group["encode"]), peak(group[case]))

    def steps_peak(self, batch: int, case: str) -> tuple[float, float]:
        """Peak memory during iterative inference and what it adds to the resident memory."""
        runs = self.groups[f"dis-inference/{batch}"][case]
        return peak(runs), peak(runs) - statistics.median(r["resident"] for r in runs)

    def train(self, name: str) -> float:
        """Median seconds of the training step called ``name`` (a key of TRAIN_CASES)."""
        return median_seconds(self.train_runs(name))

    def train_runs(self, name: str) -> list[dict]:
        group, case = TRAIN_CASES[name]
        return self.groups[f"train-{group}"][case]

    def ttr_steps(self) -> float:
        """Seconds that ttr=30 adds to a stage-3 step, the median of paired repetitions."""
        group = self.groups["train-stage3"]
        pairs = zip(group["ttr30"], group["ttr0"], strict=True)
        return statistics.median(a["seconds"] - b["seconds"] for a, b in pairs)

    def option(self, option: str, case: str) -> float | None:
        """Per image seconds of encode + ``case`` under ``option`` (None: not measured)."""
        group = self.groups.get(f"options/{option}")
        if group is None or case not in group:
            return None
        if case == "train/step":
            return median_seconds(group[case])
        pairs = zip(group["encode"], group[case], strict=True)
        batch = self.results["settings"]["options_batch"]
        return statistics.median(e["seconds"] + c["seconds"] for e, c in pairs) / batch


def median_seconds(runs: list[dict]) -> float:
    return statistics.median(run["seconds"] for run in runs)


def peak(runs: list[dict]) -> float:
    return max(run["peak"] for run in runs)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def mib(value: float) -> str:
    return f"{value / MIB:,.0f}"


def ratio(value: float) -> str:
    return f"{value:.2f}×"


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(met: bool, miss: str) -> str:
    return "yes" if met else f"**no**: {miss}"


def targets(s: Summary) -> str:
    """§4 of issue 6: the targets, each with its measured value, whether met and why."""
    train_batch = s.results["settings"]["train_batch"]
    fast, autograd = s.step(8, "fast"), s.step(8, "autograd")
    plain, tts30 = s.plain(8), s.dis(8, "fast/30")
    deeplab = s.deeplab(8)
    stage1, stage3 = s.train("DIS stage 1"), s.train("DIS stage 3, ttr=30")
    stage3_plain = s.train("DIS stage 3, ttr=0")
    peak1, peak30 = s.steps_peak(8, "fast/1")[0], s.steps_peak(8, "fast/30")[0]
    rows = [
        [
            "fast iterative inference ≥ 5× cheaper per step than autograd (batch 8)",
            f"{ms(fast)} vs {ms(autograd)} ms per step and image: {autograd / fast:.1f}×",
            verdict(autograd >= 5 * fast, f"{autograd / fast:.1f}× instead of 5×"),
        ],
        [
            "DIS tts=30 ≤ 1.3× DIS tts=0 (fast, batch 8)",
            f"{ms(tts30)} vs {ms(plain)} ms per image: {ratio(tts30 / plain)}",
            verdict(tts30 <= 1.3 * plain, f"{(tts30 / plain - 1.3) * 100:.0f} points over"),
        ],
        [
            "DIS tts=0 faster than deeplabv3_resnet101 (batch 8)",
            f"{ms(plain)} vs {ms(deeplab)} ms per image: {ratio(plain / deeplab)}",
            verdict(plain < deeplab, f"{(plain / deeplab - 1) * 100:.0f}% slower"),
        ],
        [
            f"stage-3 step with ttr=30 ≤ 1.5× a stage-1 step (batch {train_batch})",
            f"{stage3:.2f} vs {stage1:.2f} s: {ratio(stage3 / stage1)}",
            verdict(stage3 <= 1.5 * stage1, f"{(stage3 / stage1 - 1.5) * 100:.0f} points over"),
        ],
        [
            "peak memory of tts=30 within 10% of tts=1 (fast, batch 8)",
            f"{mib(peak30)} vs {mib(peak1)} MiB: {(peak30 / peak1 - 1) * 100:+.1f}%",
            verdict(peak30 <= 1.1 * peak1, f"{(peak30 / peak1 - 1.1) * 100:.0f} points over"),
        ],
    ]
    encode = s.encode(8)
    autograd_peak = s.steps_peak(8, "autograd/30")[0] / s.steps_peak(8, "autograd/1")[0]
    why = [
        f"Per step: a fast step is subnet-2's forward and backward at the feature resolution "
        f"plus the C-channel operators ({ms(fast)} ms per image); an autograd step also runs "
        f"subnet-1 (a 3×3 conv from 4096 channels) forward and backward to u1 and v1 "
        f"({ms(autograd)} ms).",
        f"tts=30: of the plain prediction's {ms(plain)} ms per image, the backbone takes "
        f"{ms(encode)} ms; 30 fast steps add {ms(tts30 - plain)} ms "
        f"({(tts30 / plain - 1) * 100:.0f}%), 30 autograd steps "
        f"{ms(s.dis(8, 'autograd/30') - s.plain(8))} ms.",
        f"DeepLabV3: both run the same dilated ResNet-101 at output stride 8. DIS's backbone "
        f"takes {ms(encode)} ms per image and the rest of its plain prediction (three subnets, "
        f"upsampling) {ms(plain - encode)} ms; DeepLabV3 takes {ms(deeplab)} ms with its ASPP "
        "head (3×3 convs from 2048 channels at rates 12, 24 and 36).",
        f"Training: stage 3 with ttr=0 takes {ratio(stage3_plain / stage1)} a stage-1 step "
        f"(it also trains subnet-2 on every image); the 30 steps on the "
        f"{train_batch // 2} tag-only images add {s.ttr_steps():.2f} s "
        f"({s.ttr_steps() / stage1 * 100:.1f}% of a stage-1 step; paired repetitions in one "
        "process), as they never run the backbone.",
        f"Memory: the steps hold C-channel tensors only, so their peak does not grow with "
        f"the number of steps (autograd: {(autograd_peak - 1) * 100:+.1f}% from 1 to 30 steps).",
    ]
    return table(["target", "measured", "met"], rows, "lll") + "\n\n" + bullets(why)


def bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def inference(s: Summary) -> str:
    header = ["model", "method", "tts"]
    for batch in BATCHES:
        header += [f"batch {batch}: ms/image", "× tts=0", "× DeepLabV3"]
    header.append("batch 8: peak MiB")
    rows = []
    for method in METHODS:
        for tts in TTS:
            row = ["DIS-ResNet-101", method, str(tts)]
            for batch in BATCHES:
                value = s.dis(batch, f"{method}/{tts}")
                row += [ms(value), ratio(value / s.plain(batch)), ratio(value / s.deeplab(batch))]
            rows.append([*row, mib(s.dis_peak(8, f"{method}/{tts}"))])
    row = ["deeplabv3_resnet101", "", ""]
    for batch in BATCHES:
        row += [ms(s.deeplab(batch)), ratio(s.deeplab(batch) / s.plain(batch)), ratio(1)]
    rows.append([*row, mib(peak(s.groups["deeplab-inference/8"]["forward"]))])
    steps = []
    for batch in BATCHES:
        fast, autograd = s.step(batch, "fast"), s.step(batch, "autograd")
        steps.append([str(batch), ms(fast), ms(autograd), f"{autograd / fast:.1f}×"])
    memory = []
    for method in METHODS:
        for tts in (1, *TTS[1:]):
            total, added = s.steps_peak(8, f"{method}/{tts}")
            memory.append([method, str(tts), mib(total), mib(added)])
    return (
        table(header, rows, "lll" + "r" * (len(header) - 3))
        + "\n\nOne step of iterative inference, ms per image ((tts=30 − tts=0) / 30):\n\n"
        + table(["batch", "fast", "autograd", "autograd ÷ fast"], steps)
        + "\n\nPeak memory while the steps run (batch 8; the features u1, v1 of the batch are "
        "resident), and what the steps add to the memory resident before them:\n\n"
        + table(["method", "tts", "peak MiB", "added MiB"], memory, "llrr")
    )


def training(s: Summary) -> str:
    rows = []
    stage1, deeplab = s.train("DIS stage 1"), s.train("deeplabv3_resnet101")
    for name in TRAIN_CASES:
        seconds, runs = s.train(name), [run["seconds"] for run in s.train_runs(name)]
        rows.append(
            [
                name,
                f"{seconds:.2f}",
                f"{min(runs):.2f}–{max(runs):.2f}",
                ratio(seconds / stage1),
                ratio(seconds / deeplab),
                mib(peak(s.train_runs(name))),
            ]
        )
    header = ["training step", "s/step", "range", "× stage 1", "× DeepLabV3", "peak MiB"]
    return table(header, rows)


def options(s: Summary) -> str:
    header = ["options", "tts=0 ms/image", "×", "tts=30 ms/image", "×", "stage-1 step s", "×"]
    rows = []
    for option in s.results["settings"]["options"]:
        row = [OPTION_NAMES[option]]
        for case in ("fast/0", "fast/30", "train/step"):
            value, base = s.option(option, case), s.option("fp32", case)
            if value is None:
                row += ["–", ""]
            else:
                text = f"{value:.2f}" if case == "train/step" else ms(value)
                row += [text, ratio(value / base)]
        rows.append(row)
    return table(header, rows)


def section(results: dict) -> str:
    s, config, info = Summary(results), results["settings"], results["machine"]
    load = results["load_average"]
    reps = config["reps"]
    device = info.get("gpu", f"{info['cpu']}, {info['cores']} cores")
    lines = [
        f"## {'GPU' if results['device'] == 'cuda' else 'CPU'}: {device}",
        "",
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"{info['threads']} intra-op threads; Python {info['python']}, torch {info['torch']}, "
        f"torchvision {info['torchvision']}"
        + (f", CUDA {info['cuda']}, cuDNN {info['cudnn']}" if "gpu" in info else "")
        + f". Measured {results['date']} in {results['minutes']} minutes; load average "
        f"(1, 5, 15 min) {fmt_load(load['before'])} before and {fmt_load(load['after'])} after"
        + (" (a quick run: one repetition each)." if config["quick"] else ".")
        + f" Medians of {reps['batch1']} (batch 1), {reps['batch8']} (batch 8), "
        f"{reps['train']} (training) and {reps['options']} (options) repetitions after a "
        "warm-up.",
        "",
        "### Targets",
        "",
        targets(s),
    ]
    if "gpu" in info:
        tts30 = s.dis(1, "fast/30")
        lines += [
            "",
            f"The paper reports {PAPER_MS_PER_IMAGE} ms per image; DIS here with tts=30 (fast, "
            f"batch 1, fp32): {ms(tts30)} ms ({ratio(tts30 * 1000 / PAPER_MS_PER_IMAGE)}).",
        ]
    lines += [
        "",
        "### Inference, 321×321 (a, b, d)",
        "",
        "Time per image = batch time / batch. DIS: backbone, iterative inference (no tags, as "
        "at test time) and the upsampled argmax; DeepLabV3: forward and argmax. "
        "× tts=0: against the DIS plain prediction at the same batch (the faster method's).",
        "",
        inference(s),
        "",
        f"### Training step (c, d), batch {config['train_batch']}",
        "",
        f"Forward, loss, backward and SGD step; DIS batches half labelled, half tag-only "
        f"(stage 3 refines the {config['train_batch'] // 2} tag-only images with ttr steps "
        "with their tags), DeepLabV3 batches all labelled. Stage 3 alternates ttr=0 and ttr=30 "
        "on one module; the other steps run in processes of their own, where differences "
        "within the range of the repetitions are noise.",
        "",
        training(s),
        "",
        f"### Speed options (batch {config['options_batch']}, DIS, fast iterative inference)",
        "",
        "Each row changes one setting of the fp32 row; × against fp32. Training steps: stage 1, "
        f"batch {config['train_batch']}; – not measured."
        + ("" if "gpu" in info else " cudnn benchmark applies to GPUs only."),
        "",
        options(s),
        "",
        "### Data loader (e)",
        "",
        results["loader"],
        "",
        "### Other processes during the groups",
        "",
        "Cores used by other processes on average while each group ran (from /proc/stat, this "
        "run's own processes taken out). Before each group the run waited, at most "
        f"{results['wait']:.0f} s, until they used at most {results['max_others']} cores; a "
        f"group during which they used more ran again (up to {results['retries']} times) and "
        "its least disturbed run is kept.",
        "",
        table(["group", "cores"], [[k, f"{v:.2f}"] for k, v in results["others"].items()]),
    ]
    return "\n".join(lines)


def fmt_load(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


HEADER = """# Benchmarks

Written by `make bench` (`python benchmarks/bench.py`, `--quick` for one repetition of
everything); the measurements live in `benchmarks/results/`. DIS-ResNet-101 (output stride 8,
random init) against torchvision's `deeplabv3_resnet101(weights=None, weights_backbone=None,
num_classes=21)`, both at 321×321 with 21 classes, on one machine in one run. Times are medians
over repetitions after an untimed warm-up. Each group of cases runs in a fresh process that
holds one model. Peak memory on a CPU is the process's peak resident set (Python and the torch
libraries included; reset between cases after freed memory is handed back to the system), on
a GPU `torch.cuda.max_memory_allocated`. Iterative inference shares one backbone pass per
repetition: its time is that pass plus the steps. Speed options are model and trainer settings:
`model.channels_last`, `model.compile_backbone`, `trainer.precision=bf16-mixed` (the default of
`trainer=gpu`) and `trainer.benchmark` (cudnn benchmark, on in `trainer=gpu`).
"""

PENDING = """## GPU

Pending: no GPU was available for these numbers. `make bench` on a CUDA machine runs the same
cases there (`--device cuda` is the default when CUDA is available), including the comparison
with the paper's 140 ms per image, and adds its section here.
"""


def render() -> str:
    sections = []
    for device in ("cpu", "cuda"):
        path = RESULTS / f"{device}.json"
        if path.is_file():
            sections.append(section(json.loads(path.read_text())))
        elif device == "cuda":
            sections.append(PENDING.strip())
    return HEADER + "\n" + "\n\n".join(sections) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--quick", action="store_true", help="one repetition, no torch.compile")
    parser.add_argument("--render-only", action="store_true", help="rewrite the report only")
    parser.add_argument(
        "--max-others",
        type=float,
        default=0.25,
        help="before each group wait until other processes use at most this many cores",
    )
    parser.add_argument("--wait", type=float, default=300, help="longest wait, seconds")
    parser.add_argument("--retries", type=int, default=1, help="reruns of a disturbed group")
    args = parser.parse_args()
    if not args.render_only:
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        results = measure(
            device, args.threads, args.quick, args.max_others, args.wait, args.retries
        )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{device}.json").write_text(json.dumps(results, indent=1) + "\n")
    REPORT.write_text(render())
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
