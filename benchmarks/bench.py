"""``make bench``: DIS against torchvision's DeepLabV3 on this machine → docs/BENCHMARKS.md.

    python benchmarks/bench.py [--quick] [--device cpu|cuda] [--threads N]
        [--groups KEYS] [--skip KEYS] [--results PATH] [--no-report] [--render-only]

Runs every group of ``benchmarks/measure.py`` in a fresh process (one model per process, so a
peak memory is that of its case), then, on a CPU, ``benchmarks/bench_loader.py``. The results
of this device kind go to ``benchmarks/results/<cpu|cuda>.json`` (or ``--results``), written
anew after every group (``"complete": false`` until the last one), so a run stopped by a time
limit keeps what it measured. The report is rendered from all stored results, so a CPU run
keeps the section of an earlier GPU run and vice versa; whatever a run did not measure reads
"not measured" (or "–" in a table).

``--groups`` and ``--skip`` take comma-separated group keys (``dis-inference/8``,
``train-stage3``, ``options/bf16``, ``loader``, ...) or prefixes of them (``dis-inference``,
``train``, ``options``). ``--quick`` takes one repetition of everything and leaves
``torch.compile`` out.
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
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
import torchvision

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPORT = HERE.parent / "docs" / "BENCHMARKS.md"
GPU_CHECK = RESULTS / "gpu-check" / "gpu_check.md"
DEVICES = ("cpu", "cuda")
LOADER = "loader"
BATCHES = (1, 8)
TTS = (0, 10, 30)
METHODS = ("fast", "autograd")
EAGER = "-eager"
COMPILED = "-compiled"
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
PIPELINE_TARGET_SECONDS = 60
MIB = 2**20
T = TypeVar("T")


def settings(device: str, quick: bool) -> dict:
    """Repetitions, batch sizes, options and whether the data loader runs.

    A CPU trains and compares options on smaller batches. On CUDA, where a case takes
    milliseconds but each group's process takes seconds to start, cases repeat more often, three
    options time a training step, ``torch.compile`` (minutes to compile) times few repetitions
    and the data loader (a measurement of the CPU) stays out, to keep the run within minutes.
    """
    cpu = device == "cpu"
    if quick:
        reps = dict.fromkeys(("batch1", "batch8", "train", "options", "compile"), 1)
    elif cpu:
        reps = {"batch1": 5, "batch8": 3, "train": 3, "options": 3, "compile": 3}
    else:
        reps = {"batch1": 10, "batch8": 10, "train": 10, "options": 5, "compile": 3}
    return {
        "quick": quick,
        "reps": reps,
        "train_batch": 4 if cpu else 8,
        "options_batch": 1 if cpu else 8,
        "options": [
            option
            for option in OPTION_NAMES
            if (option != "cudnn_benchmark" or not cpu) and (option != "compile" or not quick)
        ],
        "options_trained": ["fp32", "channels_last", "bf16"]
        if cpu
        else ["fp32", "bf16", "channels_last+bf16"],
        "loader": cpu,
    }


def plan(config: dict) -> list[tuple[str, list[str]]]:
    """(key, command line after the Python interpreter) of every group, in running order:
    the ``measure.py`` groups, then the data loader if the settings include it."""
    reps = config["reps"]
    measure = str(HERE / "measure.py")
    groups = []
    for batch in BATCHES:
        for group in ("dis-inference", "deeplab-inference"):
            arguments = [measure, group, f"--batch={batch}", f"--reps={reps[f'batch{batch}']}"]
            groups.append((f"{group}/{batch}", arguments))
    for group in TRAIN_GROUPS:
        arguments = [
            measure,
            f"train-{group}",
            f"--batch={config['train_batch']}",
            f"--reps={reps['train']}",
        ]
        groups.append((f"train-{group}", arguments))
    for option in config["options"]:
        arguments = [
            measure,
            "options",
            f"--option={option}",
            f"--batch={config['options_batch']}",
            f"--train-batch={config['train_batch']}",
            f"--reps={reps['compile' if option == 'compile' else 'options']}",
        ]
        if option not in config["options_trained"]:
            arguments.append("--no-train")
        groups.append((f"options/{option}", arguments))
    if config["loader"]:
        loader = [str(HERE / "bench_loader.py"), "--size=400", "--crop-size=321"]
        loader += ["--batch-size=8", f"--epochs={1 if config['quick'] else 2}"]
        groups.append((LOADER, loader))
    return groups


def select(keys: list[str], groups: str | None, skip: str | None) -> list[str]:
    """The keys, in order, that ``groups`` picks (all when None) and ``skip`` does not.

    Both are comma-separated patterns; a pattern picks the key it names or, when it names
    none, every key that starts with it. Raises ValueError for a pattern that picks nothing
    and for a selection left empty.
    """

    def picked(patterns: str) -> set[str]:
        chosen = set()
        for pattern in filter(None, (part.strip() for part in patterns.split(","))):
            matches = {pattern} if pattern in keys else {k for k in keys if k.startswith(pattern)}
            if not matches:
                raise ValueError(f"{pattern!r} names no group of this run ({', '.join(keys)})")
            chosen |= matches
        return chosen

    wanted = picked(groups) if groups else set(keys)
    unwanted = picked(skip) if skip else set()
    selected = [key for key in keys if key in wanted - unwanted]
    if not selected:
        raise ValueError("no group left to run")
    return selected


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
    """Wait, at most ``wait`` seconds, until other processes use at most ``max_others`` cores;
    with ``wait`` 0, go on at once (without sampling)."""
    if wait <= 0:
        return
    deadline = time.monotonic() + wait
    while (cores := others_cores()) > max_others and time.monotonic() < deadline:
        print(f"  waiting: other processes use {cores:.2f} cores", flush=True)
        time.sleep(20)


class GroupFailed(Exception):
    """A group's process exited with an error; the message ends with its standard error."""


def run_script(arguments: list[str], threads: int) -> str:
    """The standard output of ``python *arguments`` run with ``threads`` OpenMP/MKL threads;
    GroupFailed if it fails."""
    command = [sys.executable, *arguments]
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise GroupFailed(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def run_group(arguments: list[str], device: str, threads: int) -> tuple[dict, float]:
    """One ``measure.py`` group in a fresh process: its JSON output, and how many cores other
    processes used meanwhile (on average)."""
    (busy, ours), start = cpu_seconds(), time.perf_counter()
    output = run_script([*arguments, f"--device={device}", f"--threads={threads}"], threads)
    wall, (busy_after, ours_after) = time.perf_counter() - start, cpu_seconds()
    others = max(0.0, busy_after - busy - (ours_after - ours)) / wall
    return json.loads(output.splitlines()[-1]), others


def measure_group(results: dict, key: str, arguments: list[str], args) -> None:
    """Run one ``measure.py`` group into ``results["groups"]`` and ``results["others"]``.

    It waits (at most ``args.wait`` seconds) for other processes to use at most
    ``args.max_others`` cores and records how many they used while it ran; if more, it runs
    again (up to ``args.retries`` times) and the least disturbed run is kept.
    """
    for _ in range(args.retries + 1):
        wait_for_quiet(args.max_others, args.wait)
        cases, cores = run_group(arguments, results["device"], args.threads)
        print(f"  other processes used {cores:.2f} cores", flush=True)
        if key not in results["others"] or cores < results["others"][key]:
            results["groups"][key], results["others"][key] = cases, round(cores, 2)
        if cores <= args.max_others:
            break


def measure(args, device: str, keys: list[str], path: Path) -> dict:
    """Run the groups ``keys`` of this device's plan; returns the results, with the machine,
    settings and load around them.

    The results are written to ``path`` (and, unless ``args.no_report``, the report rendered)
    after every group, with ``"complete": false`` until the last one. A group that fails is
    recorded under ``failed`` (with its error) and the run goes on.
    """
    config = settings(device, args.quick)
    commands = dict(plan(config))
    started = time.time()
    results = {
        "device": device,
        "machine": machine(device, args.threads),
        "settings": config,
        "date": datetime.date.today().isoformat(),
        "complete": False,
        "planned": keys,
        "minutes": 0.0,
        "load_average": {"before": os.getloadavg(), "after": os.getloadavg()},
        "groups": {},
        "others": {},
        "wall_seconds": {},
        "failed": {},
        "max_others": args.max_others,
        "wait": args.wait,
        "retries": args.retries,
    }
    for key in keys:
        start = time.perf_counter()
        try:
            if key == LOADER:
                results["loader"] = run_script(commands[key], args.threads).strip()
            else:
                measure_group(results, key, commands[key], args)
        except GroupFailed as error:
            print(error, file=sys.stderr)
            results["failed"][key] = str(error)
        wall = time.perf_counter() - start
        results["wall_seconds"][key] = round(wall, 1)
        results["minutes"] = round((time.time() - started) / 60, 1)
        results["load_average"]["after"] = os.getloadavg()
        print(f"{key}: {wall:.1f} s{' (failed)' if key in results['failed'] else ''}", flush=True)
        save(results, path, report=not args.no_report)
    results["complete"] = True
    save(results, path, report=not args.no_report)
    return results


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it, so that a reader, or a run
    killed meanwhile, finds the old content or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def save(results: dict, path: Path, report: bool) -> None:
    """Write ``results`` to ``path`` and, if ``report``, the report, with ``results`` in place of
    the stored results of their device."""
    write_atomic(path, json.dumps(results, indent=1) + "\n")
    if report:
        write_atomic(REPORT, render({**stored_results(), results["device"]: results}))


def stored_results() -> dict[str, dict]:
    """The results in ``benchmarks/results/``, by device."""
    paths = {device: RESULTS / f"{device}.json" for device in DEVICES}
    return {
        device: json.loads(path.read_text()) for device, path in paths.items() if path.is_file()
    }


class NotMeasured(Exception):
    """A group or case the report needs is missing from the results; the message names it."""


class Summary:
    """The numbers of the report, derived from one device's results. Each raises NotMeasured
    where a group or case it needs is missing."""

    def __init__(self, results: dict) -> None:
        self.results = results
        self.groups = results["groups"]
        self.cuda = results["device"] == "cuda"

    def runs(self, group: str, case: str) -> list[dict]:
        """The timed repetitions of ``case`` in ``group``."""
        if group not in self.groups:
            raise NotMeasured(group)
        if case not in self.groups[group]:
            raise NotMeasured(f"{group} {case}")
        return self.groups[group][case]

    def encoded(self, group: str, case: str, batch: int) -> float:
        """Seconds per image of encode + ``case`` in ``group`` (of ``batch`` images), median
        over repetitions."""
        pairs = zip(self.runs(group, "encode"), self.runs(group, case), strict=True)
        return statistics.median(e["seconds"] + c["seconds"] for e, c in pairs) / batch

    def dis(self, batch: int, case: str) -> float:
        """Seconds per image of encode + ``case`` (``variant/tts``), median over repetitions."""
        return self.encoded(f"dis-inference/{batch}", case, batch)

    def default(self, batch: int, tts: int) -> float:
        """Seconds per image of encode + ``tts`` steps by ``method="auto"``: the autograd
        descent without steps (the plain prediction), fast steps otherwise."""
        return self.dis(batch, "autograd/0" if tts == 0 else f"fast/{tts}")

    def plain(self, batch: int) -> float:
        """Seconds per image of the plain prediction (tts=0), the cheaper of the two methods."""
        return min(self.dis(batch, f"{method}/0") for method in METHODS)

    def encode(self, batch: int) -> float:
        """Seconds per image of the backbone, median over repetitions."""
        return median_seconds(self.runs(f"dis-inference/{batch}", "encode")) / batch

    def deeplab(self, batch: int) -> float:
        """Seconds per image of DeepLabV3's forward and argmax, median over repetitions."""
        return median_seconds(self.runs(f"deeplab-inference/{batch}", "forward")) / batch

    def deeplab_peak(self, batch: int) -> float:
        """Peak memory of DeepLabV3's inference."""
        return peak(self.runs(f"deeplab-inference/{batch}", "forward"))

    def variants(self) -> list[str]:
        """The iterative-inference variants measured (``fast``, ``fast-compiled``,
        ``fast-eager``, ...), each method's default path followed by its compiled and its eager
        one."""
        cases = {case for b in BATCHES for case in self.groups.get(f"dis-inference/{b}", {})}
        return [v for m in METHODS for v in (m, m + COMPILED, m + EAGER) if f"{v}/0" in cases]

    def refined_paths(self, batch: int) -> dict[str, str]:
        """The ways of taking tts steps measured at ``batch``, name → variant: ``auto`` (the
        default path) and, where measured, ``compile_steps``."""
        paths = {"auto": "fast"}
        if known(self.dis, batch, f"fast{COMPILED}/30") is not None:
            paths["compile_steps"] = f"fast{COMPILED}"
        return paths

    def steps(self, batch: int, variant: str) -> float:
        """Seconds of 30 steps for the whole batch: tts=30 − tts=0, the median of paired
        repetitions."""
        group = f"dis-inference/{batch}"
        after, before = self.runs(group, f"{variant}/30"), self.runs(group, f"{variant}/0")
        pairs = zip(after, before, strict=True)
        return statistics.median(a["seconds"] - b["seconds"] for a, b in pairs)

    def step(self, batch: int, variant: str, per_image: bool = True) -> float:
        """Seconds per step and image (or per step and batch): :meth:`steps` / 30."""
        return self.steps(batch, variant) / 30 / (batch if per_image else 1)

    def dis_peak(self, batch: int, case: str) -> float:
        """Peak memory of the whole inference: the encode's or the steps', whichever is more."""
        group = f"dis-inference/{batch}"
        return max(peak(self.runs(group, "encode")), peak(self.runs(group, case)))

    def steps_peak(self, batch: int, case: str) -> tuple[float, float]:
        """Peak memory during iterative inference and what it adds to the resident memory."""
        runs = self.runs(f"dis-inference/{batch}", case)
        return peak(runs), peak(runs) - statistics.median(r["resident"] for r in runs)

    def train(self, name: str) -> float:
        """Median seconds of the training step called ``name`` (a key of TRAIN_CASES)."""
        return median_seconds(self.train_runs(name))

    def train_runs(self, name: str) -> list[dict]:
        """The timed repetitions of the training step called ``name``."""
        group, case = TRAIN_CASES[name]
        return self.runs(f"train-{group}", case)

    def ttr_steps(self) -> float:
        """Seconds that ttr=30 adds to a stage-3 step, the median of paired repetitions."""
        refined, plain = (
            self.train_runs("DIS stage 3, ttr=30"),
            self.train_runs("DIS stage 3, ttr=0"),
        )
        pairs = zip(refined, plain, strict=True)
        return statistics.median(a["seconds"] - b["seconds"] for a, b in pairs)

    def option(self, option: str, case: str) -> float:
        """Under ``option``: median seconds of the stage-1 step for ``train/step``, else seconds
        per image of the backbone alone for ``encode``, or of encode + ``case``."""
        group, batch = f"options/{option}", self.results["settings"]["options_batch"]
        if case == "train/step":
            return median_seconds(self.runs(group, case))
        if case == "encode":
            return median_seconds(self.runs(group, case)) / batch
        return self.encoded(group, case, batch)


def median_seconds(runs: list[dict]) -> float:
    """Median seconds of repetitions."""
    return statistics.median(run["seconds"] for run in runs)


def peak(runs: list[dict]) -> float:
    """The highest peak memory of repetitions."""
    return max(run["peak"] for run in runs)


def known(value: Callable[..., T], *args) -> T | None:
    """``value(*args)``, or None where a group or case it needs was not measured."""
    try:
        return value(*args)
    except NotMeasured:
        return None


def divided(numerator: float | None, denominator: float | None) -> float | None:
    """The quotient, or None where either was not measured."""
    return None if numerator is None or denominator is None else numerator / denominator


def shown(text: Callable[[T], str], value: T | None) -> str:
    """``text(value)``, or "–" for a value not measured."""
    return "–" if value is None else text(value)


def ms(seconds: float) -> str:
    """Milliseconds, with fewer decimals the larger they are."""
    if seconds >= 0.1:
        return f"{seconds * 1000:,.0f}"
    return f"{seconds * 1000:.1f}" if seconds >= 0.001 else f"{seconds * 1000:.3g}"


def mib(value: float) -> str:
    """Bytes as MiB."""
    return f"{value / MIB:,.0f}"


def ratio(value: float) -> str:
    """A ratio with two decimals."""
    return f"{value:.2f}×"


def factor(value: float) -> str:
    """A ratio with one decimal."""
    return f"{value:.1f}×"


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A Markdown table; ``align``: "l" or "r" per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def bullets(lines: list[str]) -> str:
    """A Markdown list."""
    return "\n".join(f"- {line}" for line in lines)


def target(name: str, evaluate: Callable[[], tuple[str, bool, str]]) -> dict:
    """One row of a targets table; ``evaluate()`` gives (measured, met, why not met).

    Returns {target, measured, met, why}: ``met`` True or False (``why`` says by how much it was
    missed, else None), or None where a group the target needs was not measured (``measured``
    then names it).
    """
    try:
        measured, met, why = evaluate()
    except NotMeasured as missing:
        return {"target": name, "measured": f"needs {missing}", "met": None, "why": None}
    return {"target": name, "measured": measured, "met": met, "why": None if met else why}


def at_most(value: float, limit: float, compared: str) -> tuple[str, bool, str]:
    """(measured, met, why not) of the target ratio ``value`` ≤ ``limit``; ``compared`` says
    what the ratio is of."""
    return f"{compared}: {ratio(value)}", value <= limit, f"{(value - limit) * 100:.0f} points over"


def faster(seconds: float, other: float, compared: str) -> tuple[str, bool, str]:
    """(measured, met, why not) of the target ``seconds`` < ``other``."""
    return (
        f"{compared}: {ratio(seconds / other)}",
        seconds < other,
        f"{(seconds / other - 1) * 100:.0f}% slower",
    )


def targets_table(rows: list[dict]) -> str:
    """A Markdown table of target rows ({target, measured, met} and optionally why, as
    :func:`gpu_targets` makes them); met reads "yes", "**no**: why" or "not measured"."""
    cells = []
    for row in rows:
        if row["met"] is None:
            verdict = "not measured"
        elif row["met"]:
            verdict = "yes"
        else:
            verdict = "**no**" + (f": {row['why']}" if row.get("why") else "")
        cells.append([row["target"], row["measured"], verdict])
    return table(["target", "measured", "met"], cells, "lll")


def cpu_targets(results: dict) -> list[dict]:
    """The targets of issue 6 (§4) for a CPU run, as rows of :func:`target`."""
    s, train_batch = Summary(results), results["settings"]["train_batch"]

    def per_step() -> tuple[str, bool, str]:
        fast, autograd = s.step(8, "fast"), s.step(8, "autograd")
        return (
            f"{ms(fast)} vs {ms(autograd)} ms per step and image: {autograd / fast:.1f}×",
            autograd >= 5 * fast,
            f"{autograd / fast:.1f}× instead of 5×",
        )

    def tts30() -> tuple[str, bool, str]:
        plain, refined = s.plain(8), s.dis(8, "fast/30")
        return at_most(refined / plain, 1.3, f"{ms(refined)} vs {ms(plain)} ms per image")

    def deeplab() -> tuple[str, bool, str]:
        plain, other = s.plain(8), s.deeplab(8)
        return faster(plain, other, f"{ms(plain)} vs {ms(other)} ms per image")

    def stage3() -> tuple[str, bool, str]:
        refined, stage1 = s.train("DIS stage 3, ttr=30"), s.train("DIS stage 1")
        return at_most(refined / stage1, 1.5, f"{refined:.2f} vs {stage1:.2f} s")

    def memory() -> tuple[str, bool, str]:
        one, thirty = s.steps_peak(8, "fast/1")[0], s.steps_peak(8, "fast/30")[0]
        return (
            f"{mib(thirty)} vs {mib(one)} MiB: {(thirty / one - 1) * 100:+.1f}%",
            thirty <= 1.1 * one,
            f"{(thirty / one - 1.1) * 100:.0f} points over",
        )

    return [
        target("fast iterative inference ≥ 5× cheaper per step than autograd (batch 8)", per_step),
        target("DIS tts=30 ≤ 1.3× DIS tts=0 (fast, batch 8)", tts30),
        target("DIS tts=0 faster than deeplabv3_resnet101 (batch 8)", deeplab),
        target(f"stage-3 step with ttr=30 ≤ 1.5× a stage-1 step (batch {train_batch})", stage3),
        target("peak memory of tts=30 within 10% of tts=1 (fast, batch 8)", memory),
    ]


def gpu_targets(results: dict, pipeline_seconds: float | None = None) -> list[dict]:
    """The GPU targets for the results of a CUDA run, as rows of :func:`target` (render them
    with :func:`targets_table`).

    DIS times are encode + iterative inference per image on the default path (``method="auto"``
    replayed from a CUDA graph: fast steps, or the autograd descent at tts=0), fp32.
    ``pipeline_seconds``: the wall time of ``make train ARGS=trainer=gpu``, which ``make bench``
    does not measure; None reads "not measured".
    """
    s, train_batch = Summary(results), results["settings"]["train_batch"]

    def steps() -> tuple[str, bool, str]:
        seconds = {name: s.steps(8, variant) for name, variant in s.refined_paths(8).items()}
        best = min(seconds, key=seconds.get)
        measured = "; ".join(f"{name}: {ms(value)} ms" for name, value in seconds.items())
        over = f"{best}: {ms(seconds[best] - 0.003)} ms over"
        return f"{measured} per batch", seconds[best] <= 0.003, over

    def stage3() -> tuple[str, bool, str]:
        refined, plain = s.train("DIS stage 3, ttr=30"), s.train("DIS stage 3, ttr=0")
        return at_most(refined / plain, 1.2, f"{ms(refined)} vs {ms(plain)} ms")

    def deeplab() -> tuple[str, bool, str]:
        plain, other = s.default(8, 0), s.deeplab(8)
        return faster(plain, other, f"{ms(plain)} vs {ms(other)} ms per image")

    def pipeline() -> tuple[str, bool, str]:
        if pipeline_seconds is None:
            raise NotMeasured("a timing of its own (not part of `make bench`)")
        over = pipeline_seconds - PIPELINE_TARGET_SECONDS
        return f"{pipeline_seconds:.0f} s", over <= 0, f"{over:.0f} s over"

    return [
        tts_target(s, 8, 1.15),
        tts_target(s, 1, 1.5),
        target("30 iterative-inference steps ≤ 3 ms at batch 8 (per batch; best path)", steps),
        target(
            f"stage-3 step with ttr=30 ≤ 1.2× a stage-3 step with ttr=0 (batch {train_batch})",
            stage3,
        ),
        target("DIS tts=0 faster than deeplabv3_resnet101 (batch 8, fp32)", deeplab),
        target(f"`make train ARGS=trainer=gpu` ≤ {PIPELINE_TARGET_SECONDS} s", pipeline),
    ]


def tts_target(s: Summary, batch: int, limit: float) -> dict:
    """The target DIS tts=30 ≤ ``limit`` × DIS tts=0 at ``batch``, a row of :func:`target`:
    tts=0 by the default path, tts=30 by each of :meth:`Summary.refined_paths`, the best one
    judged."""

    def evaluate() -> tuple[str, bool, str]:
        plain = s.default(batch, 0)
        ratios = {
            name: s.dis(batch, f"{variant}/30") / plain
            for name, variant in s.refined_paths(batch).items()
        }
        best = min(ratios, key=ratios.get)
        measured = "; ".join(
            f"{name}: {ms(value * plain)} ms, {ratio(value)}" for name, value in ratios.items()
        )
        over = f"{best}: {(ratios[best] - limit) * 100:.0f} points over"
        return f"{measured} (tts=0: {ms(plain)} ms per image)", ratios[best] <= limit, over

    name = f"DIS tts=30 ≤ {limit}× DIS tts=0 (batch {batch}; method auto, best path)"
    return target(name, evaluate)


def why_steps(s: Summary) -> list[str]:
    """Why a step costs what it does and what 30 of them add (batch 8)."""
    fast, autograd = s.step(8, "fast"), s.step(8, "autograd")
    plain, encode = s.plain(8), s.encode(8)
    return [
        f"Per step: a fast step is subnet-2's forward and backward at the feature resolution "
        f"plus the C-channel operators ({ms(fast)} ms per image); an autograd step also runs "
        f"subnet-1 (a 3×3 conv from the 2048 channels of u1, plus v1's share) forward and "
        f"backward to u1 and v1 "
        f"({ms(autograd)} ms).",
        f"tts=30: of the plain prediction's {ms(plain)} ms per image, the backbone takes "
        f"{ms(encode)} ms; 30 fast steps add {ms(s.dis(8, 'fast/30') - plain)} ms "
        f"({(s.dis(8, 'fast/30') / plain - 1) * 100:.0f}%), 30 autograd steps "
        f"{ms(s.dis(8, 'autograd/30') - plain)} ms.",
    ]


def why_graphs(s: Summary) -> str:
    """What CUDA graphs save on 30 steps (batch 8)."""
    return (
        f"CUDA graphs: 30 fast steps take {ms(s.steps(8, 'fast'))} ms per batch of 8 replayed "
        f"from a graph and {ms(s.steps(8, 'fast-eager'))} ms launched eagerly from Python; 30 "
        f"autograd steps {ms(s.steps(8, 'autograd'))} and "
        f"{ms(s.steps(8, 'autograd-eager'))} ms."
    )


def why_compiled(s: Summary) -> str:
    """What ``torch.compile`` of the steps changes on 30 fast steps (batch 8)."""
    unit = "batch of 8" if s.cuda else "image"
    default, compiled = s.step(8, "fast", not s.cuda), s.step(8, f"fast{COMPILED}", not s.cuda)
    return (
        f"Compiled steps (`inference.compile_steps`): a fast step takes {ms(compiled)} ms per "
        f"{unit} compiled against {ms(default)} ms on the default path "
        f"({ratio(compiled / default)}); the compiled step fuses the element-wise work between "
        "the convolutions (softmax, losses, the non-finite guard, the state updates) into a few "
        "kernels."
    )


def why_deeplab(s: Summary) -> str:
    """Where DIS's and DeepLabV3's inference times go (batch 8)."""
    plain, encode, deeplab = s.plain(8), s.encode(8), s.deeplab(8)
    return (
        f"DeepLabV3: both run the same dilated ResNet-101 at output stride 8. DIS's backbone "
        f"takes {ms(encode)} ms per image and the rest of its plain prediction (three subnets, "
        f"upsampling) {ms(plain - encode)} ms; DeepLabV3 takes {ms(deeplab)} ms with its ASPP "
        "head (3×3 convs from 2048 channels at rates 12, 24 and 36)."
    )


def why_training(s: Summary) -> str:
    """What stage 3 and its ttr steps add to a training step."""
    stage1, plain = s.train("DIS stage 1"), s.train("DIS stage 3, ttr=0")
    return (
        f"Training: stage 3 with ttr=0 takes {ratio(plain / stage1)} a stage-1 step "
        f"(it also trains subnet-2 on every image); the 30 steps on the "
        f"{s.results['settings']['train_batch'] // 2} tag-only images add "
        f"{s.ttr_steps():.2f} s ({s.ttr_steps() / stage1 * 100:.1f}% of a stage-1 step; "
        "paired repetitions in one process), as they never run the backbone."
    )


def why_memory(s: Summary) -> str:
    """How the memory of the steps grows with their number (batch 8)."""
    growth = s.steps_peak(8, "autograd/30")[0] / s.steps_peak(8, "autograd/1")[0]
    return (
        f"Memory: the steps hold C-channel tensors only, so their peak does not grow with "
        f"the number of steps (autograd: {(growth - 1) * 100:+.1f}% from 1 to 30 steps)."
    )


def explanations(s: Summary) -> str:
    """The bullets under the targets that say why, those whose groups were measured."""
    lines = [*(known(why_steps, s) or [])]
    if s.cuda:
        lines.append(known(why_graphs, s))
    lines.append(known(why_compiled, s))
    lines += [known(why_deeplab, s), known(why_training, s), known(why_memory, s)]
    return bullets([line for line in lines if line is not None])


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


def run_description(results: dict) -> str:
    """The paragraph under a section's title: machine, software, date, load, settings."""
    info, config, load = results["machine"], results["settings"], results["load_average"]
    reps = config["reps"]
    compile_reps = reps.get("compile", reps["options"])
    text = (
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"{info['threads']} intra-op threads; Python {info['python']}, torch {info['torch']}, "
        f"torchvision {info['torchvision']}"
        + (f", CUDA {info['cuda']}, cuDNN {info['cudnn']}" if "gpu" in info else "")
        + f". Measured {results['date']} in {results['minutes']} minutes; load average "
        f"(1, 5, 15 min) {fmt_load(load['before'])} before and {fmt_load(load['after'])} after"
        + (" (a quick run: one repetition each)." if config["quick"] else ".")
        + f" Medians of {reps['batch1']} (batch 1), {reps['batch8']} (batch 8), "
        f"{reps['train']} (training) and {reps['options']} (options"
        + ("" if compile_reps == reps["options"] else f"; torch.compile: {compile_reps}")
        + ") repetitions after a warm-up."
    )
    if results["device"] == "cuda":
        text += (
            " The warm-up: two untimed calls of every case (the second call of a descent "
            "captures its CUDA graph, later calls replay it). Batches: 1 and 8 for inference, "
            f"{config['train_batch']} for training, {config['options_batch']} for the speed "
            "options; training steps timed under the options "
            f"{', '.join(config['options_trained'])}."
        )
    if not results.get("complete", True):
        text += (
            f" **An incomplete run** (stopped before its end): {len(results['wall_seconds'])} of "
            f"its {len(results['planned'])} groups run."
        )
    if results.get("failed"):
        text += f" **Failed groups**: {', '.join(results['failed'])} (errors in the results file)."
    return text


def section(results: dict) -> str:
    """The report's section of one device's results."""
    s, config, info = Summary(results), results["settings"], results["machine"]
    device = info.get("gpu", f"{info['cpu']}, {info['cores']} cores")
    rows = gpu_targets(results) if s.cuda else cpu_targets(results)
    why = explanations(s)
    lines = [
        f"## {'GPU' if s.cuda else 'CPU'}: {device}",
        "",
        run_description(results),
        "",
        "### Targets",
        "",
        targets_table(rows) + (f"\n\n{why}" if why else ""),
    ]
    if s.cuda:
        tts30 = known(s.dis, 1, "fast/30")
        paper = (
            "not measured"
            if tts30 is None
            else f"{ms(tts30)} ms ({ratio(tts30 * 1000 / PAPER_MS_PER_IMAGE)})"
        )
        lines += [
            "",
            f"The paper reports {PAPER_MS_PER_IMAGE} ms per image; DIS here with tts=30 (fast, "
            f"batch 1, fp32): {paper}.",
        ]
    lines += [
        "",
        "### Inference, 321×321 (a, b, d)",
        "",
        "Time per image = batch time / batch. DIS: backbone, iterative inference (no tags, as "
        "at test time) and the upsampled argmax; DeepLabV3: forward and argmax. "
        "× tts=0: against the DIS plain prediction at the same batch (the faster method's). "
        "fast-compiled: the fast steps through `torch.compile` (`inference.compile_steps=true`)."
        + (
            " fast, autograd: the default path, each descent replayed from its CUDA graph; "
            "-eager: the same steps launched from Python (`cuda_graphs=False`)."
            if s.cuda
            else ""
        ),
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
        + (
            " encode: the backbone alone (under bf16 autocast in the bf16 rows, in channels-last "
            "memory format in the channels_last rows)."
            if s.cuda
            else " cudnn benchmark applies to GPUs only."
        ),
        "",
        options(s),
        "",
        "### Data loader (e)",
        "",
        results.get("loader")
        or (
            "Not measured: a GPU run leaves it out, as it measures the CPU "
            "(`python benchmarks/bench_loader.py` runs it alone)."
            if s.cuda
            else "Not measured."
        ),
        "",
        "### Other processes during the groups",
        "",
        others(results),
    ]
    return "\n".join(lines)


def fmt_load(values: list[float]) -> str:
    """Load averages."""
    return ", ".join(f"{value:.2f}" for value in values)


HEADER = """# Benchmarks

Written by `make bench` (`python benchmarks/bench.py`, `--quick` for one repetition of
everything, `--groups`/`--skip` for some groups only); the measurements live in
`benchmarks/results/`, written after every group, so a run stopped early is reported as far as
it got ("not measured" or – for the rest). DIS-ResNet-101 (output stride 8, random init)
against torchvision's `deeplabv3_resnet101(weights=None, weights_backbone=None,
num_classes=21)`, both at 321×321 with 21 classes, on one machine in one run. Times are medians
over repetitions after an untimed warm-up. Each group of cases runs in a fresh process that
holds one model. Peak memory on a CPU is the process's peak resident set (Python and the torch
libraries included; reset between cases after freed memory is handed back to the system), on
a GPU `torch.cuda.max_memory_allocated`. Iterative inference shares one backbone pass per
repetition: its time is that pass plus the steps. Speed options are model and trainer settings:
`model.channels_last`, `model.compile_backbone`, `trainer.precision=bf16-mixed` (the default of
`trainer=gpu`) and `trainer.benchmark` (cudnn benchmark, on in `trainer=gpu`);
`inference.compile_steps` (`fast-compiled` in the tables) compiles the iterative-inference steps.

On a CUDA machine, `make gpu-check` (`benchmarks/gpu_check.py`) runs in one command the tests
marked `cuda`, the essential groups of this benchmark, `make train` with `trainer=gpu` (the W&B
logger left out) and a profile of the kernels of a step (`benchmarks/profile_steps.py`), each
part under a time limit (9 minutes in all at most; a run without compiled steps and profile
took 5), and writes the table of GPU targets and the kernels to `benchmarks/results/gpu-check/`
as it goes; they close this page. It needs no `make install`: on a GPU machine without
network, with its own Python holding torch, torchvision, pytorch-lightning and torchmetrics,
download the other dependencies as wheels on a machine with network (`make gpu-wheels`, for
Python 3.12 unless `GPU_PYTHON_VERSION=...`; `benchmarks/gpu_wheels.txt` lists them), copy
the checkout with its `.whl/` folder over, and run

```bash
make gpu-check GPU_CHECK_ARGS="--wheels .whl"   # = python3 benchmarks/gpu_check.py --wheels .whl
```

It puts `src/` and the installed wheels on the path of every part it runs.
"""

PENDING = """## GPU

Pending: no GPU was available for these numbers. `make bench` on a CUDA machine runs the same
cases there (`--device cuda` is the default when CUDA is available), with the GPU targets, the
comparison with the paper's 140 ms per image and iterative inference with and without CUDA
graphs, and adds its section here.
"""


def render(results: dict[str, dict]) -> str:
    """The report: a section for each device's results (by device), GPU pending if none, then
    the table of the last ``make gpu-check`` if there is one."""
    sections = []
    for device in DEVICES:
        if device in results:
            sections.append(section(results[device]))
        elif device == "cuda":
            sections.append(PENDING.strip())
    if GPU_CHECK.is_file():
        lines = GPU_CHECK.read_text().strip().splitlines()
        sections.append("\n".join("#" + line if line.startswith("#") else line for line in lines))
    return HEADER + "\n" + "\n\n".join(sections) + "\n"


def main() -> None:
    """Run the selected groups of the plan and write their results and the report, or (with
    ``--render-only``) the report alone; exits with an error if a group failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=DEVICES)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--quick", action="store_true", help="one repetition, no torch.compile")
    parser.add_argument("--groups", help="comma-separated group keys or prefixes to run")
    parser.add_argument("--skip", help="comma-separated group keys or prefixes to leave out")
    parser.add_argument(
        "--results", type=Path, help="results file (default benchmarks/results/<device>.json)"
    )
    parser.add_argument("--no-report", action="store_true", help="leave docs/BENCHMARKS.md be")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the report only (from --results in place of its device's stored file)",
    )
    parser.add_argument(
        "--max-others",
        type=float,
        default=0.25,
        help="before each group wait until other processes use at most this many cores",
    )
    parser.add_argument(
        "--wait", type=float, help="longest wait, seconds (default: 300 on a CPU, 0 on CUDA)"
    )
    parser.add_argument(
        "--retries", type=int, help="reruns of a disturbed group (default: 1 on a CPU, 0 on CUDA)"
    )
    args = parser.parse_args()
    if args.render_only:
        results = stored_results()
        if args.results:
            chosen = json.loads(args.results.read_text())
            results[chosen["device"]] = chosen
        write_atomic(REPORT, render(results))
        print(f"wrote {REPORT}")
        return
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    # a GPU's kernels do not share the CPU's cores: its run neither waits for quiet nor reruns
    args.wait = args.wait if args.wait is not None else (300.0 if device == "cpu" else 0.0)
    args.retries = args.retries if args.retries is not None else int(device == "cpu")
    try:
        keys = select(
            [key for key, _ in plan(settings(device, args.quick))], args.groups, args.skip
        )
    except ValueError as error:
        parser.error(str(error))
    results = measure(args, device, keys, args.results or RESULTS / f"{device}.json")
    if not args.no_report:
        print(f"wrote {REPORT}")
    if results["failed"]:
        sys.exit(f"failed groups: {', '.join(results['failed'])}")


if __name__ == "__main__":
    main()
