"""The machine the benchmark numbers belong to, and how busy other processes keep its CPUs."""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path

import torch
import torchvision


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
