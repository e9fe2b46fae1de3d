"""How every speed job measures its callable, the same way for each.

A first call, timed on its own, where the implementation compiles (flex's torch.compile, FA4's and
FlashInfer's JIT: `compile_s`, never in the reps); one profiled probe call, which finds out whether
the implementation can run the point at all (its reason becomes an `unsupported` row), records the
kernels and the peak memory, and whose output the job checks before a single rep is timed, while
the inputs must come back bit for bit; then the burst and the sustained reps by the run's protocol
(jobs/timing.py), every rep's result checked outside the timed region (jobs/rep_check.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from jobs.contract import JobContext
from jobs.gpu_state import GpuMonitor
from jobs.kernels import profile_kernels
from jobs.output_check import BadOutput, fingerprint
from jobs.rep_check import RepCheck
from jobs.timing import Samples, Warmed, time_callable


@dataclass(frozen=True)
class Measured:
    samples: Samples
    compile_s: float | None
    kernels: list[str]  # the device kernels the probe launched, in order
    peak_mem_mib: float | None  # over the probe call, inputs included (GPUs)
    gpu: dict  # the GPU during the timed reps (GpuMonitor.summary)
    rep_checks: dict  # what was checked of the timed reps, and its host cost


def first_call_s(fn: Callable[[], object], device: torch.device) -> float:
    """Wall time of one call to completion: for a compiling implementation, mostly its compile."""
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def measure(fn: Callable[[], object], ctx: JobContext, inputs: tuple[torch.Tensor, ...],
            check: Callable[[object], None], compiles: bool) -> Measured:
    """Compile (if it does), probe, check (`check(result)` raises BadOutput; `inputs` must not
    change), then time `fn` on `ctx`'s device by its timing settings."""
    device = ctx.device
    compile_s = first_call_s(fn, device) if compiles else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    before = fingerprint(inputs)
    result, kernels, probe_busy_s = profile_kernels(fn, device)  # raises Unsupported before any timing
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    check(result)
    if fingerprint(inputs) != before:
        raise BadOutput("the call changed its inputs")
    reps = RepCheck(result)
    del result
    # the probe was a real call: it counts as the first warmup call (as do_bench's estimate calls
    # do), and the time the GPU was busy with it toward a fixed warmup_ms
    with GpuMonitor(device) as monitor:
        samples = time_callable(fn, device, ctx.timing, Warmed(1, probe_busy_s), monitor, ctx.cap_cycle, reps)
    reps.verify_last()
    return Measured(samples, compile_s, kernels, peak, monitor.summary(samples.window_t0), reps.metrics())
