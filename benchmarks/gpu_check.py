"""``make gpu-check``: the GPU checks of dis-seg in one command, results written as they come.

    python3 benchmarks/gpu_check.py [--wheels DIR] [--out DIR] [--only tests,bench,pipeline,profile]
    python3 benchmarks/gpu_check.py --render-only [--out DIR]

On a machine with a CUDA GPU it runs, each in a process of its own and under a time limit:

1. ``tests``: the tests marked ``cuda`` (graph replays of eager and compiled steps against
   autograd, no host synchronisation, weights changed under a captured graph, bf16 stage-3
   steps);
2. ``bench``: the essential groups of ``benchmarks/bench.py`` (ESSENTIAL_GROUPS) on CUDA;
3. ``pipeline``: ``python -m dis_seg.cli.pipeline trainer=gpu logger=csv`` on fresh synthetic data
   (``make train ARGS=trainer=gpu`` without the W&B logger), timed;
4. ``profile``: ``benchmarks/profile_steps.py``, the kernels of a fast step, eager and compiled,
   into ``OUT/step-kernels.md`` (where the time of a step goes);

then prints the table of the GPU targets with met / not met and the times of the VOC shape,
also written to ``OUT/gpu_check.md`` and ``OUT/gpu_check.json`` after every part, so a run
stopped midway keeps what it measured. Logs go to ``OUT/<part>.log``. Without a CUDA GPU it
says so and exits 0.

It needs no virtual environment: the machine's own ``python3`` with torch, torchvision,
pytorch-lightning and torchmetrics, ``src/`` on the path, and the other dependencies installed
from local wheel files with ``--wheels DIR`` (``make gpu-wheels`` downloads them; GPU machines
often have no network). See docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PARTS = ("tests", "bench", "pipeline", "profile")
ESSENTIAL_GROUPS = (
    "dis-inference/1,dis-inference/8,deeplab-inference/8,train-stage3,voc-shape,"
    "options/fp32,options/bf16,options/channels_last+bf16"
)
TIME_LIMITS = {"tests": 120, "bench": 200, "pipeline": 160, "profile": 60}
# Python modules dis-seg needs besides those GPU machines usually have (torch, torchvision,
# pytorch_lightning, torchmetrics, numpy, scipy, cv2, PIL, matplotlib, yaml, tqdm).
NEEDED = ("hydra", "omegaconf", "antlr4", "albumentations", "torchdata")
KERNELS = "step-kernels.md"


def install_wheels(wheels: Path, site: Path) -> None:
    """Install every wheel of ``wheels`` into ``site`` without the network or dependencies."""
    files = sorted(str(path) for path in wheels.glob("*.whl"))
    if not files:
        sys.exit(f"gpu-check: --wheels {wheels}: no .whl files there (make gpu-wheels)")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps"]
    command += ["--no-compile", "--upgrade", "--target", str(site), *files]
    subprocess.run(command, check=True)


def environment(site: Path | None) -> dict[str, str]:
    """The environment of the parts: ``src/`` (and the wheels' folder) on the Python path."""
    paths = [str(REPO / "src"), *([str(site)] if site else [])]
    inherited = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*paths, *([inherited] if inherited else [])]),
        "PYTHONUNBUFFERED": "1",
        "WANDB_MODE": "disabled",
    }


def missing_modules(env: dict[str, str]) -> list[str]:
    """The modules of NEEDED that ``env``'s Python cannot import."""
    sys.path[:0] = env["PYTHONPATH"].split(os.pathsep)
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def run_part(name: str, command: list[str], env: dict[str, str], out: Path) -> dict:
    """Run one part, its output into ``OUT/<name>.log``: exit status, seconds, timed out."""
    print(f"gpu-check: {name}: {' '.join(command)}", flush=True)
    start = time.perf_counter()
    with (out / f"{name}.log").open("w") as log:
        try:
            status = subprocess.run(
                command,
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=TIME_LIMITS[name],
            ).returncode
            timed_out = False
        except subprocess.TimeoutExpired:
            status, timed_out = None, True
    seconds = round(time.perf_counter() - start, 1)
    tail = (out / f"{name}.log").read_text().strip().splitlines()[-1:] or [""]
    print(f"gpu-check: {name}: status {status}, {seconds} s; {tail[0]}", flush=True)
    return {"status": status, "seconds": seconds, "timed_out": timed_out}


def tests_summary(out: Path) -> str:
    """pytest's last line (``N passed, M failed in …``)."""
    lines = (out / "tests.log").read_text().strip().splitlines()
    return lines[-1].strip("= ") if lines else "no output"


def machine() -> dict:
    import torch

    return {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": sys.version.split()[0],
        "date": datetime.date.today().isoformat(),
    }


def target_rows(state: dict, out: Path) -> list[dict]:
    """The targets: the CUDA tests, those of ``targets.gpu_targets`` and the pipeline's time."""
    sys.path.insert(0, str(HERE))
    from targets import gpu_targets

    rows = []
    tests = state["parts"].get("tests")
    if tests is not None:
        summary = tests_summary(out)
        passed = tests["status"] == 0 and "passed" in summary and "skipped" not in summary
        rows.append({"target": "CUDA tests pass", "measured": summary, "met": passed})
    results = bench_results(out)
    pipeline = state["parts"].get("pipeline")
    seconds = pipeline["seconds"] if pipeline and pipeline["status"] == 0 else None
    nothing = {"device": "cuda", "settings": {"train_batch": 8}, "groups": {}}
    rows += gpu_targets(results or nothing, seconds)
    return rows


def bench_results(out: Path) -> dict | None:
    """The results of the ``bench`` part, if it has written any."""
    results_file = out / "bench-cuda.json"
    return json.loads(results_file.read_text()) if results_file.is_file() else None


def write_report(state: dict, out: Path) -> str:
    """Write ``gpu_check.json`` and ``gpu_check.md`` from what is known so far; return the
    Markdown."""
    sys.path.insert(0, str(HERE))
    from summary import VOC_GROUP, Summary
    from tables import VOC_TITLE, voc_shape
    from targets import targets_table

    state["targets"] = target_rows(state, out)
    (out / "gpu_check.json").write_text(json.dumps(state, indent=1) + "\n")
    info = state["machine"]
    parts = ", ".join(
        f"{name} {part['seconds']} s"
        + (" (timed out)" if part["timed_out"] else f" (exit {part['status']})")
        for name, part in state["parts"].items()
    )
    text = (
        f"# GPU check: {info['gpu']}\n\n"
        f"{info['date']}; Python {info['python']}, torch {info['torch']}, CUDA {info['cuda']}. "
        f"Parts: {parts or 'none yet'}.\n\n{targets_table(state['targets'])}\n"
    )
    results = bench_results(out)
    if results and VOC_GROUP in results["groups"]:
        text += f"\n## {VOC_TITLE}\n\n{voc_shape(Summary(results))}\n"
    pipeline_log = out / "pipeline.log"
    if "pipeline" in state["parts"] and pipeline_log.is_file():
        log = pipeline_log.read_text()
        if "| measure |" in log:
            summary = log[log.index("| measure |") :].strip()
            text += f"\n## Pipeline summary\n\n{summary}\n"
    if "profile" in state["parts"] and (out / KERNELS).is_file():
        text += "\n" + (out / KERNELS).read_text()
    (out / "gpu_check.md").write_text(text)
    return text


def pipeline_stages(outputs: Path) -> dict[str, dict]:
    """Per stage of the pipeline run under ``outputs``: the seconds from its start (its Hydra
    config written) to its end (its metrics.json written), and its metrics."""
    stages = {}
    for metrics in sorted(outputs.glob("*/stage*/metrics.json")):
        started = (metrics.parent / ".hydra" / "config.yaml").stat().st_mtime
        stages[metrics.parent.name] = {
            "seconds": round(metrics.stat().st_mtime - started, 1),
            "metrics": json.loads(metrics.read_text()),
        }
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder of wheels to install first")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gpu-check")
    parser.add_argument("--only", default=",".join(PARTS), help="parts to run, comma-separated")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite OUT/gpu_check.md from the measurements in OUT (no GPU needed)",
    )
    args = parser.parse_args()
    if args.render_only:
        print(write_report(json.loads((args.out / "gpu_check.json").read_text()), args.out))
        return
    only = args.only.split(",")
    if unknown := set(only) - set(PARTS):
        parser.error(f"--only: unknown parts {sorted(unknown)}; expected some of {PARTS}")
    import torch

    if not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU here (torch.cuda.is_available() is False): skipped")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    site = None
    if args.wheels:
        site = Path(tempfile.mkdtemp(prefix="dis-seg-wheels-"))
        install_wheels(args.wheels, site)
    env = environment(site)
    if missing := missing_modules(env):
        sys.exit(
            f"gpu-check: cannot import {', '.join(missing)}: install dis-seg's dependencies "
            "(make install), or pass --wheels DIR with the wheels of `make gpu-wheels`"
        )
    state: dict = {"machine": machine(), "parts": {}}
    python = sys.executable
    scratch = Path(tempfile.mkdtemp(prefix="dis-seg-pipeline-"))
    commands = {
        "tests": [python, "-m", "pytest", "-o", "addopts=-ra", "-m", "cuda", "tests/test_cuda.py"],
        "bench": [
            *(python, str(HERE / "bench.py"), "--device=cuda", "--no-report"),
            *(f"--groups={ESSENTIAL_GROUPS}", f"--results={args.out / 'bench-cuda.json'}"),
        ],
        "pipeline": [
            *(python, "-m", "dis_seg.cli.pipeline", "trainer=gpu", "logger=csv"),
            *(f"paths.data_dir={scratch / 'data'}", f"paths.output_root={scratch / 'outputs'}"),
        ],
        "profile": [python, str(HERE / "profile_steps.py"), f"--out={args.out / KERNELS}"],
    }
    for name in PARTS:
        if name in only:
            state["parts"][name] = run_part(name, commands[name], env, args.out)
            write_report(state, args.out)
    if "pipeline" in only:
        stages = pipeline_stages(scratch / "outputs")
        (args.out / "pipeline-metrics.json").write_text(json.dumps(stages, indent=1) + "\n")
    shutil.rmtree(scratch, ignore_errors=True)
    print(write_report(state, args.out))
    print(f"gpu-check: wrote {args.out / 'gpu_check.md'} and {args.out / 'gpu_check.json'}")


if __name__ == "__main__":
    main()
