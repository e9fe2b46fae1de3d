"""The worker: one Ray actor per device, running job functions from `jobs.JOBS`.

`run_job` is where a job's expected failures become rows: `Unsupported` -> unsupported,
out-of-memory -> oom (with the device's free/total memory), any other exception -> error with
its type and traceback tail. After a failed job the worker drops what the job held. After every
job it checks that its process can still run CUDA work and that torch's process-wide settings are
as it started; if not, the driver records the row, then restarts the worker.
A dying process is not caught here: the driver sees the actor die.
"""
from __future__ import annotations

import gc
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
    except RuntimeError as err:  # a poisoned context: unsound_reason will say so
        return f" [device memory unknown: {str(err).splitlines()[0]}]"
    return f" [device memory after release: {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB]"


def torch_settings() -> dict[str, object]:
    """Process-wide torch settings a job (a user's candidate kernel, say) could change and every
    later job on this worker would silently inherit."""
    return {"grad_enabled": torch.is_grad_enabled(), "default_dtype": torch.get_default_dtype(),
            "num_threads": torch.get_num_threads(), "deterministic": torch.are_deterministic_algorithms_enabled(),
            "matmul_tf32": torch.backends.cuda.matmul.allow_tf32, "cudnn_tf32": torch.backends.cudnn.allow_tf32}


def unsound_reason(device: torch.device, settings: dict[str, object]) -> str:
    """Why this process should not take another job, or "". A job may have changed torch's settings,
    or left the device unusable: a CUDA error that poisons the context (illegal address,
    device-side assert), a failed CUDA-graph capture (the RNG stays mid-capture, the next draw
    raises). A draw, a kernel and a sync find out."""
    changed = {k: v for k, v in torch_settings().items() if settings[k] != v}
    if changed:
        return f"the job changed torch settings {changed}"
    if device.type != "cuda":
        return ""
    try:
        torch.randn(16, device=device).sum().item()
    except RuntimeError as err:
        return f"the device is unusable: {str(err).splitlines()[0]}"
    return ""


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
        self.settings = torch_settings()

    def identity(self) -> DeviceInfo:
        return self.info

    def run(self, job_id: str, spec: JobSpec, attempt: int) -> tuple[Result, tuple[float, ...], str]:
        """The row, its raw samples, and why this process must not take another job ("" if it may):
        then the driver records the row, says why, and restarts the worker."""
        with torch.cuda.stream(self.stream):  # a no-op with None (CPU); set per call: streams are per thread
            result, samples = run_job(job_id, spec, self.info, self.device, self.timing, attempt)
            return result, samples, unsound_reason(self.device, self.settings)
