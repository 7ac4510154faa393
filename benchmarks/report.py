"""docs/BENCHMARKS.md from the stored results: a section per device, then the last
``make gpu-check``."""

from __future__ import annotations

from pathlib import Path

from explanations import explanations
from formatting import fmt_load, ms, ratio
from summary import DEVICES, RESULTS, VOC_GROUP, Summary, known, measured_by
from tables import VOC_TITLE, inference, options, others, training, voc_shape
from targets import cpu_targets, gpu_targets, targets_table

REPORT = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
GPU_CHECK = RESULTS / "gpu-check" / "gpu_check.md"
PAPER_MS_PER_IMAGE = 140


def run_description(results: dict) -> str:
    """The paragraph under a section's title: machine, software, date, load, settings."""
    config = results["settings"]
    reps = config["reps"]
    compile_reps = reps.get("compile", reps["options"])
    text = (
        f"{machine_text(results['machine'])}. Measured {when(results)}"
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
    for update in results.get("updates", []):
        text += " " + update_description(update, results)
    if results.get("failed"):
        text += f" **Failed groups**: {', '.join(results['failed'])} (errors in the results file)."
    return text


def machine_text(info: dict) -> str:
    """The hardware and software of a run."""
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"{info['threads']} intra-op threads; Python {info['python']}, torch {info['torch']}, "
        f"torchvision {info['torchvision']}"
        + (f", CUDA {info['cuda']}, cuDNN {info['cudnn']}" if "gpu" in info else "")
    )


def when(run: dict) -> str:
    """The date, duration and load of a run."""
    load = run["load_average"]
    return (
        f"{run['date']} in {run['minutes']} minutes; load average (1, 5, 15 min) "
        f"{fmt_load(load['before'])} before and {fmt_load(load['after'])} after"
    )


def update_description(update: dict, results: dict) -> str:
    """The sentence on a later run (``bench.py --update``) that measured some groups again."""
    same = update["machine"] == results["machine"]
    text = (
        f"A later run (`--update`) measured {', '.join(update['groups'])} on "
        + ("the same machine" if same else machine_text(update["machine"]))
        + f"; {when(update)}"
        + (" (a quick run: one repetition each)" if update["settings"]["quick"] else "")
    )
    if not update["complete"]:
        done = sum(key in results["wall_seconds"] for key in update["groups"])
        text += f"; **stopped before its end**: {done} of its {len(update['groups'])} groups run"
    return text + "."


def voc_description(results: dict) -> str:
    """The paragraph over the VOC-shape table: what it times, and on which machine when."""
    text = (
        "DIS-ResNet-101 (output stride 8, random init) at the shape of `experiment=voc`: a "
        "training step on 321×321 crops, batch 2, one image labelled and one tag-only (stage 3 "
        "refines the latter with ttr=30 steps with its tags; `experiment=voc` has no tag-only "
        "images, `experiment=voc_idw` has), and the labelmap of one 500×375 image by sliding "
        "windows (`evaluation.mode=slide`: 321-pixel windows every 214 pixels, 4 windows, each "
        "refined by tts steps on the default path before their logits are averaged), as "
        "`dis_seg.inference.protocols.predict_views` evaluates an image."
    )
    cases = results["groups"].get(VOC_GROUP)
    if not cases:
        return text
    run = measured_by(results, VOC_GROUP)
    info = run["machine"]
    machine = info.get("gpu", f"{info['cpu']}, {info['cores']} cores")
    later = " (a later run than most of this section, see above)" if run is not results else ""
    repetitions = len(next(iter(cases.values())))
    return (
        f"{text} Measured {run['date']} on {machine}{later}; medians of {repetitions} "
        "repetitions after a warm-up."
    )


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
        f"### {VOC_TITLE}",
        "",
        voc_description(results),
        "",
        voc_shape(s),
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


HEADER = """# Benchmarks

Written by `make bench` (`python benchmarks/bench.py`, `--quick` for one repetition of
everything, `--groups`/`--skip` for some groups only, `--update` to keep the stored results of
the groups a run leaves out, e.g. `make bench BENCH_ARGS="--groups voc-shape --update"`); the
measurements live in `benchmarks/results/`, written after every group, so a run stopped early is
reported as far as it got ("not measured" or – for the rest). `--render-only` rewrites this page
from the stored results alone (`--results FILE` in place of its device's file, such as the
`bench-cuda.json` of `make gpu-check`). DIS-ResNet-101 (output stride 8, random init) against
torchvision's `deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21)`, both
at 321×321 with 21 classes, on one machine in one run (a section names the later runs of
`--update` and their machines); the group `voc-shape` times the shape of `experiment=voc`
instead (a training step of batch 2, the sliding-window evaluation of a 500×375 image). Times
are medians over repetitions after an untimed warm-up. Each group of cases runs in a fresh
process that holds one model at a time. Peak memory on a CPU is the process's peak resident set
(Python and the torch libraries included; reset between cases after freed memory is handed back
to the system), on a GPU `torch.cuda.max_memory_allocated`. Iterative inference shares one
backbone pass per repetition: its time is that pass plus the steps. Speed options are model and
trainer settings: `model.channels_last`, `model.compile_backbone`,
`trainer.precision=bf16-mixed` (the default of `trainer=gpu`) and `trainer.benchmark` (cudnn
benchmark, on in `trainer=gpu`); `inference.compile_steps` (`fast-compiled` in the tables)
compiles the iterative-inference steps.

On a CUDA machine, `make gpu-check` (`benchmarks/gpu_check.py`) runs in one command the tests
marked `cuda`, the essential groups of this benchmark (`voc-shape` among them), `make train`
with `trainer=gpu` (the W&B logger left out) and a profile of the kernels of a step
(`benchmarks/profile_steps.py`), each part under a time limit (9 minutes in all at most; a run
without compiled steps and profile took 5), and writes the table of GPU targets, the times of
the VOC shape and the kernels to `benchmarks/results/gpu-check/` as it goes; they close this
page. It needs no `make install`: on a GPU machine without network, with its own Python holding
torch, torchvision, pytorch-lightning and torchmetrics, download the other dependencies as
wheels on a machine with network (`make gpu-wheels`, for Python 3.12 unless
`GPU_PYTHON_VERSION=...`; `benchmarks/gpu_wheels.txt` lists them), copy the checkout with its
`.whl/` folder over, and run

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
