"""What every benchmark prints first: the machine, its load and its fp32 matrix-product speed.

Timings on a shared machine drift by a factor of two from hour to hour; the GEMM rate measured in the
same run says how fast the machine was while the benchmark ran, so numbers from different runs can
be read side by side.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable

import torch


def best_time(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Best wall time over ``repeats`` runs (the least disturbed by other processes) and the result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def gemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """fp32 GFLOP/s of a size x size matrix product with the current torch threads (best of repeats)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    seconds, _ = best_time(lambda: a @ b, repeats)
    return 2 * size**3 / seconds / 1e9


def machine_line(device: str | torch.device = "cpu") -> str:
    """Date, CPU count and model, torch threads, load average and the fp32 GEMM rate, on one line; for a
    CUDA ``device`` also the GPU's name and its fp32 GEMM rate (8192^3, TF32 off)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs ({cpu}), "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, load average {load:.2f}, "
        f"fp32 GEMM 2048^3: {gemm_gflops():.0f} GFLOP/s" + _gpu_words(torch.device(device))
    )


def _gpu_words(device: torch.device) -> str:
    if device.type != "cuda":
        return ""
    a = torch.randn(8192, 8192, device=device)
    a @ a
    torch.cuda.synchronize(device)
    seconds, _ = best_time(lambda: (a @ a, torch.cuda.synchronize(device)), 5)
    rate = 2 * 8192**3 / seconds / 1e12
    return f"; GPU {torch.cuda.get_device_name(device)}, fp32 GEMM 8192^3: {rate:.1f} TFLOP/s"
