"""``make bench``: DIS against torchvision's DeepLabV3 on this machine → docs/BENCHMARKS.md.

    python benchmarks/bench.py [--quick] [--device cpu|cuda] [--threads N]
        [--groups KEYS] [--skip KEYS] [--update] [--results PATH] [--no-report] [--render-only]

Runs every group of ``benchmarks/measure.py`` in a fresh process (one model at a time, so a
peak memory is that of its case), then, on a CPU, ``benchmarks/bench_loader.py``. The results
of this device kind go to ``benchmarks/results/<cpu|cuda>.json`` (or ``--results``), written
anew after every group (``"complete": false`` until the last one), so a run stopped by a time
limit keeps what it measured. The report is rendered from all stored results, so a CPU run
keeps the section of an earlier GPU run and vice versa; whatever a run did not measure reads
"not measured" (or "–" in a table).

``--groups`` and ``--skip`` take comma-separated group keys (``dis-inference/8``,
``train-stage3``, ``voc-shape``, ``options/bf16``, ``loader``, ...) or prefixes of them
(``dis-inference``, ``train``, ``options``). ``--quick`` takes one repetition of everything and
leaves ``torch.compile`` out. ``--update`` keeps the stored results of the groups a run leaves
out and records which run measured which groups, so that some groups can be measured again.

The stored results are read by ``summary.py``, judged against their targets by ``targets.py``
and written out as docs/BENCHMARKS.md by ``report.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from host import cpu_seconds, machine, wait_for_quiet
from report import REPORT, render
from summary import BATCHES, DEVICES, OPTION_NAMES, RESULTS, VOC_GROUP, stored_results

HERE = Path(__file__).resolve().parent
LOADER = "loader"
TRAIN_GROUPS = ("stage1", "stage3", "deeplab")


def settings(device: str, quick: bool) -> dict:
    """Repetitions, batch sizes, options and whether the data loader runs.

    A CPU trains and compares options on smaller batches. On CUDA, where a case takes
    milliseconds but each group's process takes seconds to start, cases repeat more often, three
    options time a training step, ``torch.compile`` (minutes to compile) times few repetitions
    and the data loader (a measurement of the CPU) stays out, to keep the run within minutes.
    """
    cpu = device == "cpu"
    if quick:
        reps = dict.fromkeys(("batch1", "batch8", "train", "voc", "options", "compile"), 1)
    elif cpu:
        reps = {"batch1": 5, "batch8": 3, "train": 3, "voc": 3, "options": 3, "compile": 3}
    else:
        reps = {"batch1": 10, "batch8": 10, "train": 10, "voc": 10, "options": 5, "compile": 3}
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
    groups.append((VOC_GROUP, [measure, VOC_GROUP, f"--reps={reps['voc']}"]))
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
    recorded under ``failed`` (with its error) and the run goes on. With ``args.update`` the
    results already in ``path`` are kept but for the groups ``keys`` (:func:`updated`).
    """
    config = settings(device, args.quick)
    commands = dict(plan(config))
    started = time.time()
    run = {
        "machine": machine(device, args.threads),
        "settings": config,
        "date": datetime.date.today().isoformat(),
        "complete": False,
        "minutes": 0.0,
        "load_average": {"before": os.getloadavg(), "after": os.getloadavg()},
    }
    rule = {"max_others": args.max_others, "wait": args.wait, "retries": args.retries}
    if args.update and path.is_file():
        run = {"groups": keys, **run, **rule}
        results = updated(json.loads(path.read_text()), device, run)
    else:
        results = run = {"device": device, "planned": keys, **run, **rule}
        results |= {"groups": {}, "others": {}, "wall_seconds": {}, "failed": {}}
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
        run["minutes"] = round((time.time() - started) / 60, 1)
        run["load_average"]["after"] = os.getloadavg()
        print(f"{key}: {wall:.1f} s{' (failed)' if key in results['failed'] else ''}", flush=True)
        save(results, path, report=not args.no_report)
    run["complete"] = True
    save(results, path, report=not args.no_report)
    return results


def updated(stored: dict, device: str, run: dict) -> dict:
    """``stored`` results without the measurements of the groups ``run["groups"]``, which
    ``run`` is to measure again: ``run`` joins ``stored["updates"]`` (and its groups leave
    earlier updates), so that the report says which run measured what.

    Exits where ``stored`` holds another device's results.
    """
    if stored["device"] != device:
        sys.exit(f"--update: the results file holds {stored['device']} results, not {device}")
    keys = run["groups"]
    for name in ("groups", "others", "wall_seconds", "failed"):
        for key in keys:
            stored[name].pop(key, None)
    if LOADER in keys:
        stored.pop("loader", None)
    updates = stored.get("updates", [])
    for update in updates:
        update["groups"] = [key for key in update["groups"] if key not in keys]
    stored["updates"] = [update for update in updates if update["groups"]]
    stored["updates"].append(run)
    stored["planned"] += [key for key in keys if key not in stored["planned"]]
    return stored


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
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the stored results of the groups this run leaves out (same device)",
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
    if failed := [key for key in keys if key in results["failed"]]:
        sys.exit(f"failed groups: {', '.join(failed)}")


if __name__ == "__main__":
    main()
