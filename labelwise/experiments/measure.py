"""What speed and memory benchmarks measure besides their subject: interleaved timings, peak memory, CPU features.

Timings on a machine shared with other jobs drift; `interleaved` runs every runner once per round, so
a change of load hits all of them alike, and records process CPU seconds beside wall seconds (with one
torch thread, CPU time counts the work done, not the waits for a core).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["cpu_flags", "interleaved", "machine", "peak_rss_mib", "where_and_how_long"]


def interleaved(runners: Mapping[str, Callable[[], Any]], reps: int, warmup: int = 0,
                rotate: bool = False) -> dict[str, dict[str, list[float]]]:
    """Call each runner once per round, `warmup` untimed rounds then `reps` timed ones.

    `rotate`: each timed round starts one runner later than the one before (no runner always goes first).
    Returns `{name: {"wall": [seconds per timed round], "cpu": [process CPU seconds]}}`.
    """
    names = list(runners)
    times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in names}
    for round_ in range(warmup + reps):
        shift = (round_ - warmup) % len(names) if rotate and round_ >= warmup else 0
        for name in names[shift:] + names[:shift]:
            wall, cpu = time.perf_counter(), time.process_time()
            runners[name]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_ >= warmup:
                times[name]["wall"].append(wall)
                times[name]["cpu"].append(cpu)
    return times


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM, Linux). Unlike `ru_maxrss`, which Linux carries over
    from the parent across fork/exec, VmHWM belongs to the new address space alone."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def machine() -> str:
    """The machine as benchmark records name it: architecture, core count and processor."""
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}"


def where_and_how_long(load_before: tuple[float, float, float], started: float) -> dict:
    """Provenance fields of one measurement: torch threads, machine, load average before and after, wall seconds
    since `started` (a `time.time()`)."""
    return {"torch_threads": torch.get_num_threads(), "machine": machine(),
            "load_average_before_after": [load_before, os.getloadavg()], "wall_s": time.time() - started}


def cpu_flags() -> dict:
    """The CPU model and the x86 features that decide int8 kernels (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512vnni", "avx_vnni", "amx_int8")
    return {"model": model, **{flag: flag in flags for flag in wanted}}
