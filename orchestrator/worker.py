"""The worker: one Ray actor per device, running job functions from `jobs.JOBS`.

`run_job` is where a job's expected failures become rows: `Unsupported` -> unsupported,
out-of-memory -> oom (with the device's free/total memory), any other exception -> error with
its type and traceback tail. After every job the worker drops what the job held, so the next
job starts on a clean device. A dying process is not caught here: the driver sees the actor die.
"""
from __future__ import annotations

import gc
import os
import time
import traceback

import ray
import torch

from jobs import JOBS
from jobs.backends import is_oom
from jobs.spec import JobSpec, Outcome, Unsupported
from jobs.timing import TimingConfig
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
    """Free what the last job held; returns the device's free/total memory for OOM rows."""
    gc.collect()
    if device.type != "cuda":
        return ""
    torch.cuda.empty_cache()
    free, total = torch.cuda.mem_get_info(device)
    return f" [device memory after release: {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB]"


def run_job(job_id: str, spec: JobSpec, info: DeviceInfo, device: torch.device,
            timing: TimingConfig, attempt: int) -> tuple[Result, tuple[float, ...]]:
    t0 = time.perf_counter()
    status, error, outcome = attempt_job(spec, device, timing)
    memory = release_memory(device)
    if status == "oom":
        error += memory
    return (make_result(job_id, spec, info, status, error, attempt, outcome.metrics,
                        duration_s=time.perf_counter() - t0), outcome.samples_ms)


@ray.remote
class DeviceWorker:
    """Pins one device for its lifetime; Ray restarts it (constructor again) if the process dies."""

    def __init__(self, timing: TimingConfig):
        self.info = probe_device()
        self.device = torch.device(self.info.compute)
        self.timing = timing

    def identity(self) -> DeviceInfo:
        return self.info

    def pid(self) -> int:
        return os.getpid()

    def run(self, job_id: str, spec: JobSpec, attempt: int) -> tuple[Result, tuple[float, ...]]:
        return run_job(job_id, spec, self.info, self.device, self.timing, attempt)
