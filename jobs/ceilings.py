"""Job `device_ceilings`: what this device can really do, measured once per device per run.

Dense matmul TFLOPS per dtype (the ceiling attention's matmuls are bound by), device-to-device copy
bandwidth (bytes read + bytes written), and read bandwidth (jobs/read_kernel.py: a Triton kernel
that reads a buffer once with wide loads: the ceiling memory-bound decode is held against).
Benchmark rows are put against their own device's measured ceilings (`pct_of_peak`,
`pct_of_bandwidth` in the report) rather than a datasheet.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import torch

from base.point import Params
from base.schema import ReportHints
from base.vocab import DTYPES
from jobs.contract import Job, JobContext, Outcome
from jobs.dense import torch_dtype
from jobs.gpu_state import GpuMonitor
from jobs.read_kernel import read_calls
from jobs.reps import summarize
from jobs.timing import time_callable


class Metrics(TypedDict, total=False):
    ceiling_float16_tflops: float  # an n^3 matmul, 2 n^3 FLOPs
    ceiling_bfloat16_tflops: float
    ceiling_float32_tflops: float
    ceiling_copy_gbs: float  # a device-to-device copy, bytes read + bytes written
    ceiling_read_gbs: float  # a buffer read once (GPUs with Triton): decode mostly reads


@dataclass(frozen=True)
class CeilingsParams(Params):
    def label(self) -> str:
        return "device ceilings"


def sizes(device: torch.device) -> tuple[int, int]:
    """(matmul n, copy and read bytes): big enough to fill an H200 (4 GiB: 70x its L2), small
    enough for a 2-core CPU."""
    return (8192, 2**32) if device.type == "cuda" else (512, 2**26)


def median_ms(fn, ctx: JobContext) -> float:
    with GpuMonitor(ctx.device) as monitor:  # timed by the run's protocol, like every benchmark point
        return summarize(time_callable(fn, ctx.device, ctx.timing, monitor=monitor,
                                       cap_cycle=ctx.cap_cycle).times_ms).median_ms


def matmul_tflops(dtype: torch.dtype, n: int, ctx: JobContext) -> float:
    a = torch.randn(n, n, device=ctx.device, dtype=dtype)  # (n, n), random: never time on zeros
    b = torch.randn(n, n, device=ctx.device, dtype=dtype)
    return 2 * n**3 / (median_ms(lambda: a @ b, ctx) * 1e-3) / 1e12


def copy_gbs(nbytes: int, ctx: JobContext) -> float:
    src = torch.randn(nbytes // 4, device=ctx.device)
    dst = torch.empty_like(src)
    return 2 * nbytes / (median_ms(lambda: dst.copy_(src), ctx) * 1e-3) / 1e9  # read + write


def read_gbs(nbytes: int, ctx: JobContext) -> float | None:
    """The fastest launch shape of the read kernel; None where it cannot run (a CPU, no Triton)."""
    times = [median_ms(call, ctx) for call in read_calls(nbytes, ctx.device)]
    return nbytes / (min(times) * 1e-3) / 1e9 if times else None


def device_ceilings(p: CeilingsParams, ctx: JobContext) -> Outcome:
    n, nbytes = sizes(ctx.device)
    metrics: Metrics = {f"ceiling_{name}_tflops": matmul_tflops(torch_dtype(name), n, ctx) for name in DTYPES}
    metrics["ceiling_copy_gbs"] = copy_gbs(nbytes, ctx)
    metrics["ceiling_read_gbs"] = read_gbs(nbytes, ctx)
    return Outcome(metrics=metrics)


JOB = Job(device_ceilings, CeilingsParams, Metrics, ReportHints("ceilings"))
