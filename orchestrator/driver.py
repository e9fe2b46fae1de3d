"""The driver: one `ray.wait` loop that keeps exactly one job in flight per worker.

The queues live here, never on the actors: an actor that dies takes only its one running job
with it. That job is retried (up to `run.max_retries`) once Ray has restarted the actor, then
recorded `crashed`. A job past its timeout gets its actor killed (a running actor call cannot
be cancelled) and is recorded `timeout`; Ray restarts the actor for the next job.

A slot (one worker) is in one of four states. What happens to it is decided by plain functions of
the slot and what came back (`take_next`, `on_reply`, `on_lost`, `on_call_error`, `on_identity`,
`overdue`), which tests drive without Ray; `drive`, `collect` and the three that call a worker
(`start`, `ping`, `restart`) are the only ones that touch Ray.
"""
from __future__ import annotations

import dataclasses
import enum
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnschedulableError, RayActorError, RayError

from base.point import JobSpec
from base.schema import DeviceInfo, Result, clip, make_result
from jobs import JOBS
from orchestrator.config import RunConfig
from orchestrator.sink import RunSink
from orchestrator.sweep import SweepJob, job_id
from orchestrator.worker import JobReply

WAIT_S = 0.5  # how often the loop wakes to check timeouts when nothing finishes
PING_TIMEOUT_S = 300.0  # a worker not back this long after a restart is given up
LOST = (RayActorError, ActorUnschedulableError)  # the worker died, or cannot be placed again (its node is gone)
GONE = (ActorDiedError, ActorUnschedulableError)  # ...and Ray will not bring it back


class SlotState(enum.Enum):
    IDLE = "idle"  # no call in flight: takes the next job of its queue
    RUNNING = "running"  # a job's call in flight (`job`, `ref`)
    STARTING = "starting"  # a ping in flight: the worker is (re)starting; it takes a job once it answers
    RETIRED = "retired"  # will not come back (`retired` says why)


@dataclass
class Pending:
    job_id: str
    spec: JobSpec
    timeout_s: float
    attempt: int = 1


@dataclass
class Slot:
    """One worker, the queue it takes jobs from, and its one call in flight."""
    worker: Any  # the Ray actor handle
    info: DeviceInfo
    key: str  # the device's stable key (unique in the run)
    queue: deque[Pending]
    state: SlotState = SlotState.IDLE
    job: Pending | None = None  # the job in flight (RUNNING)
    ref: Any = None  # the call in flight (RUNNING, STARTING)
    started: float = 0.0  # time.monotonic() when that call was made
    retired: str = ""  # why this worker will not come back (RETIRED)
    oom_specs: list[JobSpec] = field(default_factory=list)  # what ran out of memory here
    killed_pid: int = 0  # the process restart() killed: a ping it still answers does not count


def device_keys(infos: list[DeviceInfo]) -> list[str]:
    """A stable key per device: its GPU UUID, else host/slot; where two devices share one (two
    Ray nodes on one host, as in tests), the Ray node id tells them apart."""
    keys = [i.key for i in infos]
    return [f"{k}@{i.node[:12]}" if keys.count(k) > 1 else k for k, i in zip(keys, infos)]


def placement_key(info: DeviceInfo, device_key: str, placement: str) -> str:
    """Workers with the same placement key share one queue; each job runs once per key:
    every_device - once per device; one_per_model - once per GPU model; spread - once."""
    return {"every_device": device_key, "one_per_model": f"{info.gpu_name} ({info.compute})",
            "spread": "any device"}[placement]


def eligible(info: DeviceInfo, device_type: str) -> bool:
    return device_type == "any" or info.compute.startswith(device_type)


def plan_queues(jobs: list[SweepJob], devices: list[tuple[DeviceInfo, str]], placement: str,
                done: set[str]) -> dict[str, deque[Pending]]:
    """Per placement key, the jobs still to run there, in sweep order; `done` ids are left out.
    `devices` pairs each worker's identity with its device key."""
    queues: dict[str, deque[Pending]] = {placement_key(i, k, placement): deque() for i, k in devices}
    for job in jobs:
        keys = dict.fromkeys(placement_key(i, k, placement) for i, k in devices if eligible(i, job.device_type))
        for key in keys:
            pending = Pending(job_id(job.spec, key), job.spec, job.timeout_s)
            if pending.job_id not in done:
                queues[key].append(pending)
    return queues


def larger(spec: JobSpec, than: JobSpec) -> bool:
    """`spec` is the same kind of point as `than` and at least as big in every size parameter (those
    its job marks `size`), bigger in one."""
    if spec.job != than.job:
        return False
    sizes = {f.name for f in dataclasses.fields(JOBS[spec.job].params) if f.metadata.get("size")}
    mine, theirs = spec.fields(), than.fields()
    if any(mine[k] != theirs[k] for k in mine if k not in sizes and k not in ("point", "sweep")):
        return False
    pairs = [(mine[k], theirs[k]) for k in sizes]
    return all(a >= b for a, b in pairs) and any(a > b for a, b in pairs)


def failure(slot: Slot, job: Pending, status: str, reason: str, duration_s: float | None = None) -> Result:
    """The row of a job that ended without its worker's answer (make_result clips the reason: Ray's
    messages can carry a whole traceback)."""
    return make_result(job.job_id, job.spec, slot.info, status, reason.strip(), job.attempt, duration_s=duration_s)


def skip_reason(slot: Slot, pending: Pending, run: RunConfig) -> str:
    if not run.skip_larger_after_oom:
        return ""
    smaller = next((s for s in slot.oom_specs if larger(pending.spec, s)), None)
    return f"skipped: a smaller shape ({smaller.label()}) ran out of memory on this device" if smaller else ""


def take_next(slot: Slot, run: RunConfig) -> tuple[Pending | None, list[Result]]:
    """The next job an idle worker should run, and the rows of those skipped on the way."""
    skipped = []
    while slot.queue:
        pending = slot.queue.popleft()
        reason = skip_reason(slot, pending, run)
        if not reason:
            return pending, skipped
        skipped.append(failure(slot, pending, "skipped", reason))
    return None, skipped


def on_reply(slot: Slot, reply: JobReply) -> str:
    """A job's row came back (the caller records it): why the worker must restart first, or ""."""
    if reply.result.status == "oom":
        slot.oom_specs.append(slot.job.spec)
    slot.state, slot.job, slot.ref = SlotState.IDLE, None, None
    return reply.unsound


def on_lost(slot: Slot, err: Exception, run: RunConfig) -> list[Result]:
    """The worker process died under the call in flight: retry its job or record it crashed; a
    worker Ray will not bring back, or one that died starting, is retired, else pinged."""
    job, rows = slot.job, []
    if job is not None and job.attempt <= run.max_retries:
        slot.queue.appendleft(dataclasses.replace(job, attempt=job.attempt + 1))
    elif job is not None:
        rows.append(failure(slot, job, "crashed", f"worker process died {job.attempt} time(s) running this job: "
                                                  f"{type(err).__name__}: {err}"))
    slot.job, slot.ref = None, None
    if isinstance(err, GONE) and slot.state is SlotState.STARTING:
        retire(slot, f"worker for {slot.info.device} on {slot.info.hostname} is gone: {type(err).__name__}: {err}")
    else:
        slot.state = SlotState.STARTING  # the caller pings it
    return rows


def on_call_error(slot: Slot, err: Exception) -> list[Result]:
    """A call that raised instead of answering: an error row for its job (the caller restarts the
    worker); a ping that raised retires the worker."""
    if slot.state is SlotState.STARTING:
        retire(slot, f"worker for {slot.info.device} on {slot.info.hostname} failed to start: {type(err).__name__}")
        return []
    job = slot.job
    slot.state, slot.job, slot.ref = SlotState.IDLE, None, None
    return [failure(slot, job, "error", f"the worker's call failed: {type(err).__name__}: {clip(str(err), 2000)}")]


def on_identity(slot: Slot, info: DeviceInfo) -> bool:
    """A ping came back: the worker is up again (True), unless the answer came from the process
    restart() killed, whose kill had not landed yet (False: ping again)."""
    if info.pid == slot.killed_pid:
        return False
    slot.info, slot.state, slot.ref = info, SlotState.IDLE, None
    return True


def overdue(slot: Slot, now: float) -> str:
    """`timeout` for a job past its limit, `gone` for a worker not back from a restart in time, else ""."""
    if slot.state is SlotState.RUNNING and now - slot.started > slot.job.timeout_s:
        return "timeout"
    if slot.state is SlotState.STARTING and now - slot.started > PING_TIMEOUT_S:
        return "gone"
    return ""


def retire(slot: Slot, reason: str) -> None:
    """Stop feeding a worker that will not come back (its node left, or it cannot restart).
    Jobs in a queue it shares with live workers still run there; the rest are drained."""
    slot.state, slot.retired, slot.ref, slot.job = SlotState.RETIRED, reason.splitlines()[0][:500], None, None


def drain_retired(slots: list[Slot]) -> list[Result]:
    """Jobs left in queues that only retired workers served: recorded crashed, not dropped."""
    rows = []
    for slot in slots:
        while slot.state is SlotState.RETIRED and slot.queue:
            rows.append(failure(slot, slot.queue.popleft(), "crashed", slot.retired))
    return rows


# --- the calls to workers, and the loop ---------------------------------------------------------

def start(slot: Slot, pending: Pending) -> None:
    slot.state, slot.job, slot.started = SlotState.RUNNING, pending, time.monotonic()
    slot.ref = slot.worker.run.remote(pending.job_id, pending.spec, pending.attempt)


def ping(slot: Slot) -> None:
    """Ask a (re)starting worker who it is; it gets a job only once it answers."""
    slot.state, slot.job, slot.started = SlotState.STARTING, None, time.monotonic()
    slot.ref = slot.worker.identity.remote()


def restart(slot: Slot, why: str, sink: RunSink) -> None:
    """Kill the worker's process (a running call cannot be cancelled); Ray starts a fresh one.
    ray.kill is asynchronous: the old process may still answer the first ping (on_identity)."""
    sink.note(f"sdpa-bench: restarting the worker of {slot.info.device} on {slot.info.hostname}: {why}")
    slot.killed_pid = slot.info.pid
    ray.kill(slot.worker, no_restart=False)
    ping(slot)


def collect(slot: Slot, run: RunConfig, sink: RunSink) -> None:
    """Take the answer of the slot's call and act on it."""
    try:
        value = ray.get(slot.ref)
    except LOST as err:
        sink.record_all(on_lost(slot, err, run))
        if slot.state is SlotState.STARTING:
            ping(slot)
        return
    except RayError as err:  # the call failed in the worker outside its own guard: this job alone pays
        job = slot.job
        sink.record_all(on_call_error(slot, err))
        if job is not None:
            restart(slot, f"after {job.job_id}: {type(err).__name__}", sink)
        return
    if slot.state is SlotState.STARTING:
        if on_identity(slot, value):
            sink.device_changed(value)  # the manifest names the live process
        else:
            ping(slot)
        return
    unsound = on_reply(slot, value)
    sink.record(value.result, value.samples_ms)
    if unsound:
        restart(slot, f"after {value.result.job_id}: {unsound}", sink)


def police(slots: list[Slot], sink: RunSink) -> None:
    """Time out jobs past their limit; give up on workers that never came back from a restart."""
    now = time.monotonic()
    for slot in slots:
        why = overdue(slot, now)
        if why == "timeout":
            job = slot.job
            sink.record_all([failure(slot, job, "timeout", f"no result after {job.timeout_s:g} s; worker killed "
                                     "and restarted", duration_s=now - slot.started)])
            restart(slot, f"{job.job_id} timed out", sink)
        elif why == "gone":
            retire(slot, f"worker for {slot.info.device} on {slot.info.hostname} did not come back "
                         f"within {PING_TIMEOUT_S:g} s of a restart")


def drive(slots: list[Slot], run: RunConfig, sink: RunSink) -> None:
    """Feed idle workers, take results in completion order, until every queue is empty."""
    while True:
        for slot in slots:
            if slot.state is SlotState.IDLE:
                pending, skipped = take_next(slot, run)
                sink.record_all(skipped)
                if pending is not None:
                    start(slot, pending)
        in_flight = {slot.ref: slot for slot in slots if slot.ref is not None}
        if not in_flight:
            sink.record_all(drain_retired(slots))
            return
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_S)
        for ref in ready:
            collect(in_flight[ref], run, sink)
        police(slots, sink)
        sink.tick()
