"""The driver: one `ray.wait` loop that keeps exactly one job in flight per worker.

The queues live here, never on the actors: an actor that dies takes only its one running job
with it. That job is retried (up to `run.max_retries`) once Ray has restarted the actor, then
recorded `crashed`. A job past its timeout gets its actor killed (a running actor call cannot
be cancelled) and is recorded `timeout`; Ray restarts the actor for the next job.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import ray
from ray.exceptions import ActorDiedError, ActorUnschedulableError, RayActorError, RayError

from base.point import SIZE_FIELDS, JobSpec
from base.schema import DeviceInfo, make_result
from orchestrator.config import RunConfig
from orchestrator.sink import RunSink
from orchestrator.sweep import SweepJob, job_id

WAIT_S = 0.5  # how often the loop wakes to check timeouts when nothing finishes
PING_TIMEOUT_S = 300.0  # a worker not back this long after a restart is given up
LOST = (RayActorError, ActorUnschedulableError)  # the worker died, or cannot be placed again (its node is gone)
SAME_FIELDS = ("job", "backend", "flash_impl", "dtype", "mode", "causal", "mask")


@dataclass
class Pending:
    job_id: str
    spec: JobSpec
    timeout_s: float
    attempt: int = 1


@dataclass
class Slot:
    """One worker, the queue it takes jobs from, and its one call in flight."""
    worker: ray.actor.ActorHandle
    info: DeviceInfo
    key: str  # the device's stable key (unique in the run)
    queue: deque[Pending]
    job: Pending | None = None  # None while the call in flight is a ping after a restart
    ref: ray.ObjectRef | None = None
    started: float = 0.0
    retired: str = ""  # why this worker will not come back; "" while it serves
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
    """`spec` is the same kind of point as `than` and at least as big in every dimension, bigger in one."""
    if any(getattr(spec, f) != getattr(than, f) for f in SAME_FIELDS):
        return False
    sizes = [(getattr(spec, f), getattr(than, f)) for f in SIZE_FIELDS]
    return all(a >= b for a, b in sizes) and any(a > b for a, b in sizes)


def skip_reason(slot: Slot, pending: Pending, run: RunConfig) -> str:
    if not run.skip_larger_after_oom:
        return ""
    smaller = next((s for s in slot.oom_specs if larger(pending.spec, s)), None)
    return f"skipped: a smaller shape ({smaller.label()}) ran out of memory on this device" if smaller else ""


def submit_next(slot: Slot, run: RunConfig, sink: RunSink) -> None:
    """Give an idle worker its next job, recording the ones that are skipped on the way."""
    while slot.queue:
        pending = slot.queue.popleft()
        reason = skip_reason(slot, pending, run)
        if not reason:
            slot.job, slot.started = pending, time.monotonic()
            slot.ref = slot.worker.run.remote(pending.job_id, pending.spec, pending.attempt)
            return
        sink.record(make_result(pending.job_id, pending.spec, slot.info, "skipped", reason, pending.attempt), ())


def ping(slot: Slot) -> None:
    """Ask a (re)starting worker who it is; it gets a job only once it answers."""
    slot.job, slot.ref, slot.started = None, slot.worker.identity.remote(), time.monotonic()


def lost(slot: Slot, err: Exception, run: RunConfig, sink: RunSink) -> None:
    """The worker process died under the call in flight: retry the job or record it crashed."""
    job = slot.job
    if job is not None and job.attempt <= run.max_retries:
        slot.queue.appendleft(Pending(job.job_id, job.spec, job.timeout_s, job.attempt + 1))
    elif job is not None:
        reason = f"worker process died {job.attempt} time(s) running this job: {type(err).__name__}: {err}"
        sink.record(make_result(job.job_id, job.spec, slot.info, "crashed", reason.strip(), job.attempt), ())
    if isinstance(err, (ActorDiedError, ActorUnschedulableError)) and job is None:  # not coming back
        retire(slot, f"worker for {slot.info.device} on {slot.info.hostname} is gone: {type(err).__name__}: {err}")
    else:
        ping(slot)


def retire(slot: Slot, reason: str) -> None:
    """Stop feeding a worker that will not come back (its node left, or it cannot restart).
    Jobs in a queue it shares with live workers still run there; the rest are drained."""
    slot.retired, slot.ref, slot.job = reason.splitlines()[0][:500], None, None


def drain_retired(slots: list[Slot], sink: RunSink) -> None:
    """Jobs left in queues that only retired workers served: recorded crashed, not dropped."""
    for slot in slots:
        while slot.retired and slot.queue:
            job = slot.queue.popleft()
            sink.record(make_result(job.job_id, job.spec, slot.info, "crashed", slot.retired, job.attempt), ())


def collect(slot: Slot, run: RunConfig, sink: RunSink) -> None:
    ref, slot.ref = slot.ref, None
    try:
        value = ray.get(ref)
    except LOST as err:
        lost(slot, err, run, sink)
        return
    except RayError as err:  # the call failed in the worker outside its own guard: this job alone pays
        failed(slot, err, sink)
        return
    if slot.job is None:  # a ping came back: the worker is up again, unless the kill has not landed yet
        if value.pid == slot.killed_pid:
            ping(slot)
        else:
            slot.info = value
            sink.device_changed(value)  # the manifest names the live process
        return
    result, samples, unsound = value  # unsound: the job left the process unusable or changed its settings
    if result.status == "oom":
        slot.oom_specs.append(slot.job.spec)
    slot.job = None
    sink.record(result, samples)
    if unsound:
        print(f"sdpa-bench: restarting the worker of {slot.info.device} on {slot.info.hostname} after "
              f"{result.job_id}: {unsound}", flush=True)
        restart(slot)


def failed(slot: Slot, err: Exception, sink: RunSink) -> None:
    """A call that raised instead of returning its row: an error row for its job, a fresh worker."""
    if slot.job is None:  # a ping that raised: treat like a worker that did not come back
        retire(slot, f"worker for {slot.info.device} on {slot.info.hostname} failed to start: {type(err).__name__}")
        return
    job, slot.job = slot.job, None
    reason = f"the worker's call failed: {type(err).__name__}: {str(err)[:2000]}"
    sink.record(make_result(job.job_id, job.spec, slot.info, "error", reason, job.attempt), ())
    print(f"sdpa-bench: restarting the worker of {slot.info.device} on {slot.info.hostname} after "
          f"{job.job_id}: {type(err).__name__}", flush=True)
    restart(slot)


def restart(slot: Slot) -> None:
    """Kill the worker's process (a running call cannot be cancelled); Ray starts a fresh one.
    ray.kill is asynchronous: the old process may still answer the first ping (see collect)."""
    slot.killed_pid = slot.info.pid
    ray.kill(slot.worker, no_restart=False)
    ping(slot)


def time_out(slot: Slot, sink: RunSink) -> None:
    job = slot.job
    sink.record(make_result(job.job_id, job.spec, slot.info, "timeout",
                            f"no result after {job.timeout_s:g} s; worker killed and restarted",
                            job.attempt, duration_s=time.monotonic() - slot.started), ())
    restart(slot)


def drive(slots: list[Slot], run: RunConfig, sink: RunSink) -> None:
    """Feed idle workers, take results in completion order, until every queue is empty."""
    while True:
        for slot in slots:
            if slot.ref is None and not slot.retired:
                submit_next(slot, run, sink)
        in_flight = {slot.ref: slot for slot in slots if slot.ref is not None}
        if not in_flight:
            drain_retired(slots, sink)
            return
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_S)
        for ref in ready:
            collect(in_flight[ref], run, sink)
        police(slots, sink)


def police(slots: list[Slot], sink: RunSink) -> None:
    """Time out jobs past their limit; give up on workers that never came back from a restart."""
    now = time.monotonic()
    for slot in slots:
        if slot.ref is None:
            continue
        if slot.job is not None and now - slot.started > slot.job.timeout_s:
            time_out(slot, sink)
        elif slot.job is None and now - slot.started > PING_TIMEOUT_S:
            retire(slot, f"worker for {slot.info.device} on {slot.info.hostname} did not come back "
                         f"within {PING_TIMEOUT_S:g} s of a restart")
