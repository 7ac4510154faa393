"""Times and peak memory of one benchmark group, in a process of its own; prints JSON.

    python benchmarks/measure.py GROUP [--device cpu] [--threads 2] [--batch 8] [--reps 3]

Groups (all at 321×321, 21 classes, random init):

- ``dis-inference``: DIS-ResNet-101 encode, then iterative inference with ``tts`` ∈ {0, 1, 10,
  30} steps (no tags, as at test time) by each method, then the labelmap (upsampled argmax);
  one encode per repetition is shared by the cases. Cases ``fast/{tts}`` and
  ``autograd/{tts}`` take the default path (on CUDA a descent replayed from its CUDA graph),
  ``fast-compiled/{tts}`` the fast steps through ``torch.compile`` (``compile_steps=True``), on
  CUDA also ``fast-eager/{tts}`` and ``autograd-eager/{tts}`` (``cuda_graphs=False``).
- ``deeplab-inference``: torchvision ``deeplabv3_resnet101``, forward and argmax.
- ``train-stage1``, ``train-stage3``: the stage module's ``training_step`` on a synthetic
  half-labelled batch, backward and an SGD step; stage 3 alternates ttr=0 and ttr=30.
- ``train-deeplab``: ``deeplabv3_resnet101`` cross-entropy on a labelled batch, backward, SGD.
- ``voc-shape``: the shape of ``experiment=voc``: a stage-1 step (case ``train-stage1``) and a
  stage-3 step with ttr=30 (``train-stage3/ttr30``) on a half-labelled batch of 2, then the
  sliding-window labelmap (``predict_views``, windows of 321 every 214 pixels) of one 500×375
  image after tts ∈ {0, 30} steps on every window (``slide/{tts}``); one model at a time.
- ``options``: DIS encode + fast iterative inference (tts 0 and 30, default path) under
  ``--option``:
  ``fp32``, ``cudnn_benchmark``, ``channels_last``, ``bf16``, ``channels_last+bf16`` or
  ``compile``, and a stage-1 training step unless ``--no-train``.

Each case runs untimed first (warm-up), then ``--reps`` times. On CUDA every case runs twice
untimed, as the second call of a descent (per shapes and settings) captures its CUDA graph and
later calls replay it; on a CPU one call warms up (iterative inference with two steps, which
compiles both of a compiled descent's step graphs, the one followed by a step and the last one;
stage 3 with ttr=1). Every run records its seconds (CUDA synchronised), its peak memory and the
memory resident before it: on CUDA ``max_memory_allocated`` and ``memory_allocated``; on a CPU the
process's peak RSS (VmHWM, reset through ``/proc/self/clear_refs`` after ``malloc_trim`` hands
freed memory back) and its RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision

from dis_seg.data.random_batch import random_training_batch
from dis_seg.inference import StepOptions, iterative_inference
from dis_seg.inference.protocols import EvaluationProtocol, predict_views
from dis_seg.models import DISNet, upsample_logits
from dis_seg.stages import Stage1Module, Stage3Module
from dis_seg.stages.optim import build_optimizer

SIZE, CLASSES, OUTPUT_STRIDE, STEP_SIZE = 321, 21, 8, 1.0
TTS = (0, 1, 10, 30)
TTRS = (0, 30)
METHODS = ("fast", "autograd")
# experiment=voc: training batch, the height and width of a VOC image, its sliding windows
VOC_BATCH, VOC_IMAGE = 2, (375, 500)
VOC_SLIDE = EvaluationProtocol(mode="slide", window=SIZE, stride=214)
VOC_TTR, VOC_TTS = 30, (0, 30)
OPTIONS = ("fp32", "cudnn_benchmark", "channels_last", "bf16", "channels_last+bf16", "compile")


class Meter:
    """Runs calls and records their seconds, peak and resident memory (bytes)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.libc = ctypes.CDLL("libc.so.6") if device.type == "cpu" else None

    def _resident(self) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return torch.cuda.memory_allocated(self.device)
        self.libc.malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        return _proc_status_bytes("VmRSS")

    def _peak(self) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device)
        return _proc_status_bytes("VmHWM")

    def run(self, function: Callable, *args) -> tuple[object, dict[str, float]]:
        """``function(*args)`` and its measurement {seconds, peak, resident}.

        Garbage is collected before, and the survivors frozen (``gc.freeze``), so that the next
        collection scans only what was made since: a full one over the objects of torch and
        Lightning takes a fifth of a second.
        """
        gc.collect()
        gc.freeze()
        resident = self._resident()
        start = time.perf_counter()
        result = function(*args)
        peak = self._peak()
        return result, {"seconds": time.perf_counter() - start, "peak": peak, "resident": resident}


def _proc_status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


class Record:
    """Measurements per case."""

    def __init__(self) -> None:
        self.cases: dict[str, list[dict[str, float]]] = {}

    def add(self, case: str, measurement: dict[str, float], timed: bool = True) -> None:
        if timed:
            self.cases.setdefault(case, []).append(measurement)


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def warm_ups(device: torch.device, cases: tuple, cheapest: int | None) -> tuple:
    """The cases to call untimed before the timed calls: on CUDA every one of ``cases`` twice
    (the second call of a descent captures its CUDA graph), on a CPU ``cheapest`` once."""
    return cases * 2 if device.type == "cuda" else (cheapest,)


def step_variants(device: torch.device) -> dict[str, StepOptions]:
    """Case name → how the steps of iterative inference are taken: every method on its default
    path, fast steps also compiled (``fast-compiled``), and on CUDA every method eagerly
    (``{method}-eager``)."""
    variants = {method: StepOptions(method=method) for method in METHODS}
    variants["fast-compiled"] = StepOptions(method="fast", compile_steps=True)
    if device.type == "cuda":
        variants |= {f"{m}-eager": StepOptions(method=m, cuda_graphs=False) for m in METHODS}
    return variants


def dis_net(device: torch.device, option: str = "fp32") -> DISNet:
    model = DISNet(
        "resnet101",
        CLASSES,
        output_stride=OUTPUT_STRIDE,
        channels_last="channels_last" in option,
        compile_backbone=option == "compile",
    )
    return model.eval().to(device)


def dis_labelmap(
    model: DISNet,
    u1,
    v1,
    images,
    steps: int,
    options: StepOptions,
) -> torch.Tensor:
    """The labelmap after ``steps`` of iterative inference from (u1, v1), as at test time."""
    result = iterative_inference(
        model,
        u1,
        v1,
        images,
        steps=steps,
        step_size=STEP_SIZE,
        options=options,
        return_features=False,
    )
    return upsample_logits(result.u3, images.shape[-2:]).argmax(dim=1)


def dis_inference(
    args, device, meter, variants: dict[str, StepOptions], tts=TTS, option="fp32"
) -> Record:
    """Cases ``encode`` and ``{variant}/{tts}`` for each of ``variants`` (case name → how the
    steps are taken), the latter without the encode."""
    model = dis_net(device, option)
    images = torch.randn(args.batch, 3, SIZE, SIZE, device=device)
    record = Record()
    bf16 = "bf16" in option
    for repetition in range(args.reps + 1):
        timed = repetition > 0
        with torch.no_grad(), autocast(device, bf16):
            (u1, v1), measured = meter.run(model.encode, images)
            record.add("encode", measured, timed)
            for name, how in variants.items():
                for steps in tts if timed else warm_ups(device, tts, 2):
                    _, measured = meter.run(dis_labelmap, model, u1, v1, images, steps, how)
                    record.add(f"{name}/{steps}", measured, timed)
        del u1, v1
    return record


def deeplab(device: torch.device) -> torch.nn.Module:
    return torchvision.models.segmentation.deeplabv3_resnet101(
        weights=None, weights_backbone=None, num_classes=CLASSES
    ).to(device)


def deeplab_inference(args, device, meter) -> Record:
    model = deeplab(device).eval()
    images = torch.randn(args.batch, 3, SIZE, SIZE, device=device)
    record = Record()
    for repetition in range(args.reps + 1):
        with torch.no_grad():
            _, measured = meter.run(lambda: model(images)["out"].argmax(dim=1))
        record.add("forward", measured, repetition > 0)
    return record


def train_steps(
    args, device, meter, case: str, option: str = "fp32", stage3_ttrs: tuple[int, ...] = TTRS
) -> Record:
    """Forward, loss, backward and SGD step of one training batch: case ``step``, or for
    ``stage3`` the cases ``ttr{ttr}`` for each of ``stage3_ttrs``, alternating on one module
    (default inference method and CUDA graphs)."""
    batch = {
        name: value.to(device)
        for name, value in random_training_batch(args.batch, SIZE, CLASSES).items()
    }
    if case == "deeplab":
        model = deeplab(device).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        labelled = batch["has_labelmap"][:, None, None]
        target = torch.where(labelled, batch["labelmap"], batch["hidden_labelmap"])

        def loss() -> torch.Tensor:
            return F.cross_entropy(model(batch["image"])["out"], target, ignore_index=255)
    else:
        network = {
            "backbone": "resnet101",
            "num_classes": CLASSES,
            "output_stride": OUTPUT_STRIDE,
            "channels_last": "channels_last" in option,
            "compile_backbone": option == "compile",
        }
        module = (
            Stage1Module(model=network)
            if case == "stage1"
            else Stage3Module(model=network, recon_fit="truth")
        )
        module.to(device).train()
        model = module.model
        optimizer = build_optimizer(model.backbone, model.head_modules(), module.optimizer_config)

        def loss() -> torch.Tensor:
            return module.training_step(batch, 0)

    def step(ttr: int | None = None) -> None:
        if ttr is not None:
            module.ttr = ttr
        with autocast(device, "bf16" in option):
            value = loss()
        value.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    ttrs = stage3_ttrs if case == "stage3" else (None,)
    for ttr in warm_ups(device, ttrs, 1 if case == "stage3" else None):
        step(ttr)
    record = Record()
    for _ in range(args.reps):
        for ttr in ttrs:
            record.add("step" if ttr is None else f"ttr{ttr}", meter.run(step, ttr)[1])
    return record


def slide_labelmap(model: DISNet, image: torch.Tensor, steps: int) -> torch.Tensor:
    """The labelmap of ``image`` under :data:`VOC_SLIDE`, each window refined by ``steps``
    steps of iterative inference (default path) before the merge, as the evaluation takes it."""
    with torch.no_grad():
        views = predict_views(model, image, VOC_SLIDE, steps=steps, step_size=STEP_SIZE)
    return views.labelmap(steps)


def voc_shape(args, device, meter) -> Record:
    """Cases ``train-stage1``, ``train-stage3/ttr{VOC_TTR}`` (batch :data:`VOC_BATCH`) and
    ``slide/{tts}`` for each of :data:`VOC_TTS` (one :data:`VOC_IMAGE` image); each model is
    freed before the next is built."""
    args.batch = VOC_BATCH
    record = Record()
    stage1 = train_steps(args, device, meter, "stage1")
    record.cases["train-stage1"] = stage1.cases["step"]
    stage3 = train_steps(args, device, meter, "stage3", stage3_ttrs=(VOC_TTR,))
    record.cases[f"train-stage3/ttr{VOC_TTR}"] = stage3.cases[f"ttr{VOC_TTR}"]
    model = dis_net(device)
    image = torch.randn(1, 3, *VOC_IMAGE, device=device)
    for steps in warm_ups(device, VOC_TTS, 2):
        slide_labelmap(model, image, steps)
    for _ in range(args.reps):
        for steps in VOC_TTS:
            record.add(f"slide/{steps}", meter.run(slide_labelmap, model, image, steps)[1])
    return record


def options(args, device, meter) -> Record:
    """Cases ``encode``, ``fast/0``, ``fast/30`` and (unless ``--no-train``) ``train/step``."""
    torch.backends.cudnn.benchmark = args.option == "cudnn_benchmark"
    variants = {"fast": StepOptions(method="fast")}
    record = dis_inference(args, device, meter, variants, tts=(0, 30), option=args.option)
    if not args.no_train:
        args.batch = args.train_batch
        for case, runs in train_steps(args, device, meter, "stage1", args.option).cases.items():
            record.cases[f"train/{case}"] = runs
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("group")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="intra-op threads (CPU)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions after a warm-up")
    parser.add_argument("--option", choices=OPTIONS, default="fp32")
    parser.add_argument("--train-batch", type=int, default=2, help="options: training batch")
    parser.add_argument("--no-train", action="store_true", help="options: inference only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*self.log.*")
    device = torch.device(args.device)
    torch.manual_seed(0)
    meter = Meter(device)
    if args.group == "dis-inference":
        record = dis_inference(args, device, meter, step_variants(device))
    elif args.group == "deeplab-inference":
        record = deeplab_inference(args, device, meter)
    elif args.group.startswith("train-"):
        record = train_steps(args, device, meter, args.group.removeprefix("train-"))
    elif args.group == "voc-shape":
        record = voc_shape(args, device, meter)
    elif args.group == "options":
        record = options(args, device, meter)
    else:
        parser.error(f"unknown group {args.group!r}")
    print(json.dumps(record.cases))


if __name__ == "__main__":
    main()
