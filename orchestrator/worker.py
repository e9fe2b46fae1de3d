"""The worker: one Ray actor per device, running job functions from `jobs.JOBS`.

`run_job` is where a job's expected failures become rows: `Unsupported` -> unsupported,
out-of-memory -> oom (with the device's free/total memory), any other exception -> error with
its type and traceback tail. After a failed job the worker drops what the job held and checks
that its process can still run CUDA work; if not, the driver records the row, then restarts it.
A dying process is not caught here: the driver sees the actor die.
"""
from __future__ import annotations

import gc
import os
import sys
import time
import traceback

import ray
import torch

from jobs import JOBS
from jobs.backends import is_oom
from jobs.spec import JobSpec, Outcome, Unsupported
from jobs.timing import TimingConfig
from orchestrator.config import MemoryBudget
from orchestrator.devices import DeviceInfo, probe_device
from orchestrator.results import Result, make_result

TRACEBACK_TAIL_LINES = 6
def attempt_job(spec: JobSpec, device: torch.device, timing: TimingConfig) -> tuple[str, str, Outcome]:
    """(status, error, outcome). Returns plain strings so no traceback keeps tensors alive."""
    try:
        return "ok", "", JOBS[spec.job](spec, device, timing)
    except Unsupported as err:
        return "unsupported", str(err), Outcome()
    except Exception as err:  # noqa: BLE001 - every job exception must become a row, never a lost job
        if is_oom(err):
            return "oom", str(err).splitlines()[0], Outcome()
        tail = "".join(traceback.format_exception(err)[-TRACEBACK_TAIL_LINES:])
        return "error", f"{type(err).__name__}: {err}\n{tail}", Outcome()


def release_memory(device: torch.device) -> str:
    """Free what a failed job held (a traceback can keep its tensors alive until a collection);
    returns the device's free/total memory for OOM rows. gc.collect costs ~0.2 s with torch
    loaded, so jobs that finished cleanly, whose tensors died with their frames, skip this."""
    gc.collect()
    if device.type != "cuda":
        return ""
    try:
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info(device)
    except RuntimeError as err:  # a poisoned context: process_sound will say so
        return f" [device memory unknown: {str(err).splitlines()[0]}]"
    return f" [device memory after release: {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB]"


def process_sound(device: torch.device) -> bool:
    """Can this process still run CUDA work after a failed job? Some failures leave it unusable:
    a CUDA error that poisons the context (illegal address, device-side assert), or a failed
    CUDA-graph capture, which leaves the RNG mid-capture (the next draw raises). A draw, a kernel
    and a sync find out; then the driver records the row and restarts the worker."""
    if device.type != "cuda":
        return True
    try:
        torch.randn(16, device=device).sum().item()
        return True
    except RuntimeError as err:
        print(f"sdpa-bench worker: unusable after a failed job ({str(err).splitlines()[0]}); asking for a restart",
              file=sys.stderr, flush=True)
        return False


def apply_budget(budget: MemoryBudget, info: DeviceInfo, device: torch.device) -> None:
    """Cap this process's CUDA allocations; allocations past the cap raise torch's OOM error."""
    if device.type != "cuda" or (budget.devices and info.device not in budget.devices):
        return
    total = torch.cuda.get_device_properties(device).total_memory
    fractions = [f for f in (budget.fraction, budget.gib and budget.gib * 2**30 / total) if f]
    if fractions:
        torch.cuda.set_per_process_memory_fraction(min(min(fractions), 1.0), device)


def run_job(job_id: str, spec: JobSpec, info: DeviceInfo, device: torch.device,
            timing: TimingConfig, attempt: int) -> tuple[Result, tuple[float, ...]]:
    t0 = time.perf_counter()
    status, error, outcome = attempt_job(spec, device, timing)
    if status != "ok":
        memory = release_memory(device)
        error += memory if status == "oom" else ""
    return (make_result(job_id, spec, info, status, error, attempt, outcome.metrics,
                        duration_s=time.perf_counter() - t0), outcome.samples_ms)


@ray.remote
class DeviceWorker:
    """Pins one device for its lifetime; Ray restarts it (constructor again) if the process dies."""

    def __init__(self, timing: TimingConfig, budget: MemoryBudget):
        self.info = probe_device()
        self.device = torch.device(self.info.compute)
        self.timing = timing
        apply_budget(budget, self.info, self.device)
        # jobs run on a stream of their own, not the legacy default stream, which cannot join a
        # CUDA-graph capture (mode bwd's stored forward would run its backward there)
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def identity(self) -> DeviceInfo:
        return self.info

    def pid(self) -> int:
        return os.getpid()

    def run(self, job_id: str, spec: JobSpec, attempt: int) -> tuple[Result, tuple[float, ...], bool]:
        """The row, its raw samples, and whether this process can take another job."""
        with torch.cuda.stream(self.stream):  # a no-op with None (CPU); set per call: streams are per thread
            result, samples = run_job(job_id, spec, self.info, self.device, self.timing, attempt)
            return result, samples, result.status == "ok" or process_sound(self.device)
