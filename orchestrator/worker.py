"""The worker: one Ray actor per device, running job functions from `jobs.JOBS`.

`run_job` is where a job's failures become rows: `Unsupported` -> unsupported, out-of-memory ->
oom (with the device's free/total memory), any other exception -> error with its type and
traceback tail (a huge message cut to its head and tail: base.schema.clip), a `BaseException`
that is not an `Exception` (SystemExit, KeyboardInterrupt) -> crashed, and metrics the job did
not declare -> error naming the key. Whatever fails around the job (building the row, the
soundness check) is an error row too: nothing a job does reaches Ray as an exception. After every
job the worker checks that its process can still run CUDA work and that torch's process-wide
settings are as it started; if not, the driver restarts it.
A dying process is not caught here: the driver sees the actor die.
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import time
import traceback
from dataclasses import dataclass

import ray
import torch

from base.point import JobSpec
from base.schema import DeviceInfo, Result, clip, make_result
from base.settings import MemoryBudget, TimingConfig
from jobs import JOBS, job
from jobs.backends import is_oom
from jobs.contract import JobContext, Outcome, Unsupported
from jobs.process_state import busy_threads, children, clocks, new_children, process_state, replaced_clocks, threads
from jobs.settle import CapCycle
from orchestrator.devices import probe_device

TRACEBACK_TAIL_LINES = 6
MESSAGE_CHARS, LINE_CHARS = 2000, 1000  # an exception's message and each traceback line, head and tail kept
INT64 = 2**63


def failure_text(err: BaseException) -> str:
    """The exception's type and message, then its traceback's tail: each part clipped, so a huge
    message (it appears in both) leaves room for the frames."""
    tail = "".join(clip(line, LINE_CHARS) for line in traceback.format_exception(err)[-TRACEBACK_TAIL_LINES:])
    return clip(f"{type(err).__name__}: {clip(str(err), MESSAGE_CHARS)}\n{tail}")


def first_line(text: str) -> str:
    """What a progress line says of an error: its first line, short."""
    return clip(text.splitlines()[0] if text else "", 300)


@dataclass(frozen=True)
class JobReply:
    """What a worker's `run` answers: the row, its raw samples, and why this process must not take
    another job ("" if it may): then the driver records the row, says why, and restarts the worker."""
    result: Result
    samples_ms: tuple[float, ...]
    unsound: str


def attempt_job(spec: JobSpec, ctx: JobContext) -> tuple[str, str, Outcome]:
    """(status, error, outcome). Returns plain strings so no traceback keeps tensors alive."""
    try:
        return "ok", "", job(spec.job).function(spec.params, ctx)
    except Unsupported as err:
        return "unsupported", str(err), Outcome()
    except Exception as err:  # noqa: BLE001 - every job exception must become a row, never a lost job
        if is_oom(err):
            return "oom", str(err).splitlines()[0], Outcome()
        return "error", failure_text(err), Outcome()
    except BaseException as err:  # noqa: BLE001 - SystemExit, KeyboardInterrupt from a job: it alone pays
        return "crashed", f"the job raised {failure_text(err)}", Outcome()


def fits(value: object, kind: type) -> bool:
    """Whether a metric value can sit in a column of `kind` (None always can; ints fit float columns)."""
    if value is None:
        return True
    if isinstance(value, bool):
        return kind is bool
    if isinstance(value, int):
        return kind in (int, float) and -INT64 <= value < INT64
    return isinstance(value, kind)


def undeclared(name: str, outcome: object) -> str:
    """Why what the job returned breaks its contract ("" if it keeps it): an Outcome whose metrics
    are the ones its Metrics declare, with values of their types."""
    if not isinstance(outcome, Outcome):
        return f"job {name} returned {type(outcome).__name__}, not an Outcome"
    metrics = outcome.metrics
    if not isinstance(metrics, dict):
        return f"job {name} returned metrics of type {type(metrics).__name__}, not a dict"
    fields = JOBS[name].metric_types()
    for key, value in metrics.items():
        if key not in fields:
            return f"job {name} returned {key!r}, a metric its Metrics does not declare ({', '.join(fields)})"
        if not fits(value, fields[key]):
            return f"job {name} returned {key}={value!r:.60}, not a {fields[key].__name__} (as its Metrics declares)"
    return ""


def release_memory(device: torch.device) -> str:
    """Free what a failed job held (a traceback can keep its tensors alive until a collection);
    returns the device's free/total memory for OOM rows. Jobs that finished cleanly skip this."""
    gc.collect()
    if device.type != "cuda":
        return ""
    try:
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info(device)
    except RuntimeError as err:  # a poisoned context: unsound_reason will say so
        return f" [device memory unknown: {str(err).splitlines()[0]}]"
    return f" [device memory after release: {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB]"


@dataclass(frozen=True)
class Before:
    """What the worker reads before each job: its threads and its child processes."""
    threads: set[int]
    children: set[int]

    @classmethod
    def now(cls) -> Before:
        return cls(threads(), set(children()))


def left_behind(before: Before) -> str:
    """What the job left running beside the next one, or "": threads still running code, child
    processes (ended here: a restart would leave them running, orphaned)."""
    busy = busy_threads(before.threads)
    if busy:
        return f"the job left {len(busy)} thread{'s' * (len(busy) > 1)} running ({', '.join(busy[:3])[:200]})"
    kids = new_children(before.children)
    for pid in kids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if kids:
        return (f"the job left {len(kids)} child process{'es' * (len(kids) > 1)} running "
                f"({', '.join(f'pid {p}: {line[:60]}' for p, line in list(kids.items())[:3])}); ended it")
    return ""


def unsound_reason(device: torch.device, state: dict[str, object], clocks: dict[str, object], before: Before) -> str:
    """Why this process should not take another job, or "". A job may have changed torch's process
    state or the clocks the timing reads, left threads or child processes running, or left the
    device unusable: a CUDA error that poisons the context (illegal address, device-side assert),
    a failed CUDA-graph capture (the RNG stays mid-capture, the next draw raises). A draw, a kernel
    and a sync find out."""
    changed = {k: v for k, v in process_state().items() if state[k] != v}
    if changed:
        return f"the job changed process-wide settings {changed}"
    if replaced := replaced_clocks(clocks):
        return f"the job replaced {', '.join(replaced)}: every later time on this worker would be read through it"
    if left := left_behind(before):
        return left
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


def run_job(job_id: str, spec: JobSpec, info: DeviceInfo, ctx: JobContext, attempt: int,
            ) -> tuple[Result, tuple[float, ...]]:
    t0 = time.perf_counter()
    status, error, outcome = attempt_job(spec, ctx)
    if status == "ok" and (broken := undeclared(spec.job, outcome)):
        status, error, outcome = "error", broken, Outcome()
    if status != "ok":
        memory = release_memory(ctx.device)
        error += memory if status == "oom" else ""
    return (make_result(job_id, spec, info, status, error, attempt, outcome.metrics,
                        duration_s=time.perf_counter() - t0), tuple(outcome.samples_ms))


@ray.remote
class DeviceWorker:
    """Pins one device for its lifetime; Ray restarts it (constructor again) if the process dies."""

    def __init__(self, timing: TimingConfig, budget: MemoryBudget):
        # FlashAttention-4 keeps the kernels it compiles on disk, and loads them in a later process,
        # only with this set before flash_attn.cute is imported (its default is off)
        os.environ.setdefault("FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED", "1")
        self.info = probe_device()
        self.device = torch.device(self.info.compute)
        self.timing = timing
        apply_budget(budget, self.info, self.device)
        # jobs run on a stream of their own, not the legacy default stream, which cannot join a
        # CUDA-graph capture (mode bwd's stored forward would run its backward there)
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self.state, self.clocks = process_state(), clocks()
        self.cap_cycle = CapCycle()  # what this worker learns of its GPU's power cap, job after job

    def identity(self) -> DeviceInfo:
        return self.info

    def run(self, job_id: str, spec: JobSpec, attempt: int) -> JobReply:
        ctx = JobContext(self.device, self.timing, spec.seed, self.cap_cycle)
        try:
            before = Before.now()
            with torch.cuda.stream(self.stream):  # a no-op with None (CPU); set per call: streams are per thread
                result, samples = run_job(job_id, spec, self.info, ctx, attempt)
                unsound = unsound_reason(self.device, self.state, self.clocks, before)
        except BaseException as err:  # noqa: BLE001 - a failure around the job costs that job only
            error = f"the worker failed around the job: {failure_text(err)}"
            return JobReply(make_result(job_id, spec, self.info, "error", error, attempt), (), first_line(error))
        if result.status == "crashed":  # a SystemExit or KeyboardInterrupt left the process in an unknown state
            unsound = unsound or first_line(result.error)
        if replaced := replaced_clocks(self.clocks):  # the job's own times were read through the replacement
            error = f"the job replaced {', '.join(replaced)}: its own times were read through the replacement"
            result, samples = make_result(job_id, spec, self.info, "error", error, attempt), ()
        return JobReply(result, samples, unsound)
