"""Where the time of iterative inference goes: the kernels of 30 fast steps, on the default path
and compiled (``compile_steps``), launched and timed as ``torch.profiler`` sees them.

    python benchmarks/profile_steps.py [--device cuda] [--batch 8] [--out FILE.md]

DIS-ResNet-101 features of random 321×321 images (41×41, 21 classes, random init), no tags, as
at test time: the ``dis-inference`` case of ``benchmarks/measure.py``. CUDA graphs are off, so
that the profiler sees each kernel a replayed graph would run. After two untimed calls per path
(which compile), one call of 30 steps is profiled; its totals, divided by 30, give per step the
kernel launches and the time the device spends in them (on a CPU: the operators and their own
time). A few of them belong to the first evaluation, the setup and the labelmap's argmax, not
to a step. Prints a Markdown table per path and writes them to
``--out``; ``make gpu-check`` runs it on the GPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from measure import SIZE, dis_labelmap, dis_net
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from dis_seg.inference import StepOptions

STEPS = 30
PATHS = {"fast": False, "fast-compiled": True}
SHOWN = 15


def descend(model, u1, v1, images, compile_steps: bool) -> None:
    options = StepOptions(method="fast", cuda_graphs=False, compile_steps=compile_steps)
    dis_labelmap(model, u1, v1, images, STEPS, options)


def kernel_rows(events, device: torch.device) -> list[tuple[str, float, float]]:
    """(name, launches per step, µs per step) of the device kernels (on a CPU: the operators,
    by their own time), most time first."""
    rows = []
    for event in events:
        if device.type == "cuda":
            if event.device_type != DeviceType.CUDA:
                continue
            micros = event.self_device_time_total
        else:
            micros = event.self_cpu_time_total
        rows.append((event.key, event.count / STEPS, micros / STEPS))
    return sorted(rows, key=lambda row: -row[2])


def table(path: str, rows: list[tuple[str, float, float]], device: torch.device) -> str:
    """The Markdown table of one path: its totals, then its :data:`SHOWN` costliest kernels."""
    what = "kernel" if device.type == "cuda" else "operator"
    launches = sum(row[1] for row in rows)
    micros = sum(row[2] for row in rows)
    lines = [
        f"### {path}: {launches:.1f} {what}s, {micros:.0f} µs per step",
        "",
        f"| {what} | per step | µs per step | share |",
        "|:---|---:|---:|---:|",
    ]
    for name, count, time in rows[:SHOWN]:
        name = name if len(name) <= 80 else name[:77] + "..."
        lines.append(f"| `{name}` | {count:.1f} | {time:.1f} | {time / micros:.0%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--out", type=Path, help="write the tables to this Markdown file")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = dis_net(device)
    images = torch.randn(args.batch, 3, SIZE, SIZE, device=device)
    with torch.no_grad():
        u1, v1 = model.encode(images)
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    header = (
        f"## Kernels of a step ({name}, batch {args.batch}, {u1.shape[-2]}×{u1.shape[-1]} "
        f"features, {STEPS} steps profiled)\n"
    )
    tables = [header]
    for path, compile_steps in PATHS.items():
        for _ in range(2):
            descend(model, u1, v1, images, compile_steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        with profile(activities=activities) as profiled:
            descend(model, u1, v1, images, compile_steps)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        tables.append(table(path, kernel_rows(profiled.key_averages(), device), device))
    text = "\n".join(tables)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
