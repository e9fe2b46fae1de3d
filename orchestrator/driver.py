"""The driver: one `ray.wait` loop that keeps exactly one job in flight per worker.

The queues live here, never on the actors: an actor that dies takes only its one running job
with it. That job is retried (up to `run.max_retries`) once Ray has restarted the actor, then
recorded `crashed`. A job past `run.job_timeout_s` gets its actor killed (a running actor call
cannot be cancelled) and is recorded `timeout`; Ray restarts the actor for the next job.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import ray
from ray.exceptions import ActorDiedError, RayActorError

from jobs.spec import JobSpec
from orchestrator.config import RunConfig
from orchestrator.devices import DeviceInfo
from orchestrator.results import make_result
from orchestrator.sink import RunSink
from orchestrator.sweep import job_id

WAIT_S = 0.5  # how often the loop wakes to check timeouts when nothing finishes


@dataclass
class Pending:
    job_id: str
    spec: JobSpec
    attempt: int = 1


@dataclass
class Slot:
    """One worker, the queue it takes jobs from, and its one call in flight."""
    worker: ray.actor.ActorHandle
    info: DeviceInfo
    queue: deque[Pending]
    job: Pending | None = None  # None while the call in flight is a ping after a restart
    ref: ray.ObjectRef | None = None
    started: float = 0.0
    retired: str = ""  # why this worker will not come back; "" while it serves


def placement_key(info: DeviceInfo, placement: str) -> str:
    """Workers with the same key share one queue; each job runs once per key."""
    return {"every_device": info.key}[placement]


def eligible(info: DeviceInfo, device_type: str) -> bool:
    return device_type == "any" or info.compute.startswith(device_type)


def plan_queues(jobs: list[tuple[JobSpec, str]], infos: list[DeviceInfo], placement: str,
                done: set[str]) -> dict[str, deque[Pending]]:
    """Per placement key, the jobs still to run there, in sweep order; `done` ids are left out."""
    queues: dict[str, deque[Pending]] = {placement_key(i, placement): deque() for i in infos}
    for spec, device_type in jobs:
        keys = dict.fromkeys(placement_key(i, placement) for i in infos if eligible(i, device_type))
        for key in keys:
            pending = Pending(job_id(spec, key), spec)
            if pending.job_id not in done:
                queues[key].append(pending)
    return queues


def submit(slot: Slot, pending: Pending) -> None:
    slot.job, slot.started = pending, time.monotonic()
    slot.ref = slot.worker.run.remote(pending.job_id, pending.spec, pending.attempt)


def ping(slot: Slot) -> None:
    """Ask a (re)starting worker who it is; it gets a job only once it answers."""
    slot.job, slot.ref = None, slot.worker.identity.remote()


def lost(slot: Slot, err: RayActorError, run: RunConfig, sink: RunSink) -> None:
    """The worker process died under the call in flight: retry the job or record it crashed."""
    job = slot.job
    if job is not None and job.attempt <= run.max_retries:
        slot.queue.appendleft(Pending(job.job_id, job.spec, job.attempt + 1))
    elif job is not None:
        reason = f"worker process died {job.attempt} time(s) running this job: {type(err).__name__}: {err}"
        sink.record(make_result(job.job_id, job.spec, slot.info, "crashed", reason.strip(), job.attempt), ())
    if isinstance(err, ActorDiedError) and job is None:  # died again before answering a ping
        slot.retired = f"worker for {slot.info.device} on {slot.info.hostname} is gone: {err}"
    else:
        ping(slot)


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
    except RayActorError as err:
        lost(slot, err, run, sink)
        return
    if slot.job is None:  # a ping came back: the worker is up again
        slot.info = value
        return
    slot.job = None
    sink.record(*value)


def time_out(slot: Slot, run: RunConfig, sink: RunSink) -> None:
    job = slot.job
    sink.record(make_result(job.job_id, job.spec, slot.info, "timeout",
                            f"no result after {run.job_timeout_s:g} s; worker killed and restarted",
                            job.attempt, duration_s=time.monotonic() - slot.started), ())
    ray.kill(slot.worker, no_restart=False)
    ping(slot)


def drive(slots: list[Slot], run: RunConfig, sink: RunSink) -> None:
    """Feed idle workers, take results in completion order, until every queue is empty."""
    while True:
        for slot in slots:
            if slot.ref is None and slot.queue and not slot.retired:
                submit(slot, slot.queue.popleft())
        in_flight = {slot.ref: slot for slot in slots if slot.ref is not None}
        if not in_flight:
            drain_retired(slots, sink)
            return
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_S)
        for ref in ready:
            collect(in_flight[ref], run, sink)
        now = time.monotonic()
        for slot in slots:
            if slot.job is not None and slot.ref is not None and now - slot.started > run.job_timeout_s:
                time_out(slot, run, sink)
