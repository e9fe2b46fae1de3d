"""The driver: its decisions as plain functions of a slot and what came back (queueing, placement,
skips, retries, timeouts, retiring), without Ray; and its last line of defence with a real Ray
actor: a worker call that raises instead of returning its row (what a RayTaskError is) costs that
job an error row, the worker is restarted, and the run goes on to the next job."""
import dataclasses
import os
from collections import deque

import pytest
import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError

from base.journal import read_journal
from base.rundir import RunDir
from base.schema import DeviceInfo, make_result
from orchestrator.config import RunConfig
from orchestrator.driver import (PING_TIMEOUT_S, Pending, Slot, SlotState, device_keys, drain_retired, drive,
                                 larger, on_call_error, on_identity, on_lost, on_reply, overdue, placement_key,
                                 plan_queues, take_next)
from orchestrator.sink import RunSink
from orchestrator.sweep import SweepJob
from orchestrator.worker import JobReply
from tests.conftest import dense, job_spec

INFO = DeviceInfo("n", "h", "cpu", "cpu", "cpu", "", None, None, "", "", "", "", "", pid=1)


def spec(seq: int, **kw):
    return job_spec(dense(batch=1, heads=1, seq_len=seq, head_dim=8, **kw), sweep="s")


def slot(*jobs: Pending, **kw) -> Slot:
    return Slot(worker=None, info=INFO, key="k", queue=deque(jobs), **kw)


def gpu(name: str, model: str) -> DeviceInfo:
    return dataclasses.replace(INFO, device=name, compute="cuda:0", gpu_name=model, gpu_uuid=f"uuid-{name}")


# --- without Ray -----------------------------------------------------------------------------------

def test_queues_per_placement_leave_out_what_is_done_and_what_a_device_cannot_run():
    devices = [gpu("cuda:0", "H100"), gpu("cuda:1", "H100"), gpu("cuda:2", "H200"), INFO]
    keyed = list(zip(devices, device_keys(devices)))
    jobs = [SweepJob(spec(16), "cuda", 60.0), SweepJob(spec(24), "any", 60.0)]
    every = plan_queues(jobs, keyed, "every_device", done=set())
    assert [len(q) for q in every.values()] == [2, 2, 2, 1]  # the CPU worker takes only the `any` job
    per_model = plan_queues(jobs, keyed, "one_per_model", done=set())
    assert {k: len(q) for k, q in per_model.items()} == {"H100 (cuda:0)": 2, "H200 (cuda:0)": 2, "cpu (cpu)": 1}
    done = {every[placement_key(devices[0], keyed[0][1], "every_device")][0].job_id}
    assert [len(q) for q in plan_queues(jobs, keyed, "every_device", done).values()] == [1, 2, 2, 1]
    spread = plan_queues(jobs, keyed, "spread", done=set())
    assert [len(q) for q in spread.values()] == [2]  # one queue every worker shares


def test_after_an_oom_larger_points_of_the_same_kind_are_skipped_and_recorded():
    s = slot(Pending("big", spec(64), 60.0), Pending("other", spec(64, backend="flash"), 60.0),
             Pending("small", spec(8), 60.0))
    s.oom_specs.append(spec(32))
    pending, skipped = take_next(s, RunConfig(skip_larger_after_oom=True))
    assert [r.job_id for r in skipped] == ["big"] and skipped[0].status == "skipped"
    assert "a smaller shape (b1 h1 s32 d8 float32 fwd) ran out of memory" in skipped[0].error
    assert pending.job_id == "other"  # another backend is another kind of point
    assert take_next(s, RunConfig(skip_larger_after_oom=True))[0].job_id == "small"
    assert larger(spec(64), spec(32)) and not larger(spec(32), spec(32)) and not larger(spec(64), spec(32, mode="bwd"))


def test_a_reply_is_recorded_and_an_oom_remembered():
    s = slot(state=SlotState.RUNNING, job=Pending("a", spec(16), 60.0))
    result = make_result("a", spec(16), INFO, "oom", "out of memory")
    assert on_reply(s, JobReply(result, (), "")) == ""
    assert s.state is SlotState.IDLE and s.oom_specs == [spec(16)]


def test_a_lost_worker_retries_its_job_then_records_it_crashed():
    run = RunConfig(max_retries=1)
    s = slot(state=SlotState.RUNNING, job=Pending("a", spec(16), 60.0))
    assert on_lost(s, ActorUnavailableError("gone", None), run) == [] and s.state is SlotState.STARTING
    assert s.queue[0].attempt == 2  # first in line again, once the worker is back
    s.state, s.job = SlotState.RUNNING, s.queue.popleft()
    rows = on_lost(s, ActorUnavailableError("gone again", None), run)
    assert [(r.status, r.attempt) for r in rows] == [("crashed", 2)]
    assert "worker process died 2 time(s) running this job" in rows[0].error


def test_a_worker_that_dies_while_starting_is_retired_and_its_queue_drained():
    s = slot(Pending("a", spec(16), 60.0), state=SlotState.STARTING)
    assert on_lost(s, ActorDiedError(), RunConfig()) == []
    assert s.state is SlotState.RETIRED and "is gone" in s.retired
    rows = drain_retired([s])
    assert [(r.job_id, r.status) for r in rows] == [("a", "crashed")] and not s.queue


def test_a_call_that_raises_costs_its_job_an_error_row_and_a_ping_that_raises_retires():
    s = slot(state=SlotState.RUNNING, job=Pending("a", spec(16), 60.0))
    rows = on_call_error(s, ValueError("outside the guard"))
    assert rows[0].status == "error" and "ValueError: outside the guard" in rows[0].error
    starting = slot(state=SlotState.STARTING)
    assert on_call_error(starting, ValueError("x")) == [] and starting.state is SlotState.RETIRED


def test_the_killed_process_answering_a_ping_does_not_count():
    s = slot(state=SlotState.STARTING, killed_pid=1)
    assert not on_identity(s, INFO)  # pid 1: the process restart() killed, not yet gone
    assert on_identity(s, dataclasses.replace(INFO, pid=2)) and s.state is SlotState.IDLE and s.info.pid == 2


def test_overdue_jobs_time_out_and_workers_that_never_come_back_are_gone():
    running = slot(state=SlotState.RUNNING, job=Pending("a", spec(16), 5.0), started=100.0)
    assert overdue(running, 104.0) == "" and overdue(running, 105.5) == "timeout"
    starting = slot(state=SlotState.STARTING, started=100.0)
    assert overdue(starting, 100.0 + PING_TIMEOUT_S / 2) == "" and overdue(starting, 101.0 + PING_TIMEOUT_S) == "gone"
    assert overdue(slot(), 10**9) == ""  # an idle worker is never overdue


# --- with a real Ray actor -------------------------------------------------------------------------

@ray.remote(max_restarts=-1, max_task_retries=0)
class RaisesOnFirstJob:
    """A worker whose first call raises past every guard of its own; later calls return a row."""

    def __init__(self, marker: str):
        self.marker = marker

    def identity(self) -> DeviceInfo:
        return dataclasses.replace(INFO, pid=os.getpid())

    def run(self, job_id, spec, attempt: int) -> JobReply:
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise ValueError("raised outside any guard")
        return JobReply(make_result(job_id, spec, self.identity(), "ok", "", attempt), (), "")


@pytest.mark.integration
def test_a_call_that_raises_is_an_error_row_and_the_next_job_runs(ray_fake_gpus, tmp_path):
    worker = RaisesOnFirstJob.remote(str(tmp_path / "raised"))
    info = ray.get(worker.identity.remote())
    run_dir = RunDir(tmp_path / "run")
    run_dir.open_session({}, "", {"format": 2, "columns": {}, "jobs": {}}, [], {})
    run_dir.record_devices([info])
    sink = RunSink(run_dir, total=2)
    queue = deque([Pending("a", spec(16), 60.0), Pending("b", spec(24), 60.0)])
    try:
        drive([Slot(worker, info, "k", queue)], RunConfig(), sink)
    finally:
        sink.close()
        ray.kill(worker)
    rows = read_journal(run_dir.file("results.jsonl"))
    assert [(r["job_id"], r["status"]) for r in rows] == [("a", "error"), ("b", "ok")]
    assert rows[0]["error"].startswith("the worker's call failed: RayTaskError(ValueError)")
    assert "raised outside any guard" in rows[0]["error"]
