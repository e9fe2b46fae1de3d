"""The driver's last line of defence, with a real Ray actor: a worker call that raises instead of
returning its row (what a RayTaskError is) costs that job an error row, the worker is restarted,
and the run goes on to the next job."""
import dataclasses
import os
from collections import deque

import ray

from base.journal import read_journal
from base.manifest import record_devices, start_session
from base.point import JobSpec
from base.schema import DeviceInfo, make_result
from orchestrator.config import RunConfig
from orchestrator.driver import Pending, Slot, drive
from orchestrator.sink import RunSink

INFO = DeviceInfo("n", "h", "cpu", "cpu", "cpu", "", None, None, "", "", "", "", "")


@ray.remote(max_restarts=-1, max_task_retries=0)
class RaisesOnFirstJob:
    """A worker whose first call raises past every guard of its own; later calls return a row."""

    def __init__(self, marker: str):
        self.marker = marker

    def identity(self) -> DeviceInfo:
        return dataclasses.replace(INFO, pid=os.getpid())

    def run(self, job_id: str, spec: JobSpec, attempt: int):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise ValueError("raised outside any guard")
        return make_result(job_id, spec, self.identity(), "ok", "", attempt), (), ""


def spec(seq: int) -> JobSpec:
    return JobSpec(job="sdpa_benchmark", sweep="s", backend="math", dtype="float32", batch=1, heads=1, kv_heads=1,
                   seq_len=seq, kv_len=seq, head_dim=8, causal=False, mode="fwd", inputs="randn", seed=0)


def test_a_call_that_raises_is_an_error_row_and_the_next_job_runs(ray_fake_gpus, tmp_path):
    worker = RaisesOnFirstJob.remote(str(tmp_path / "raised"))
    info = ray.get(worker.identity.remote())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    start_session(run_dir, {}, [], {})
    record_devices(run_dir, [info])
    sink = RunSink(run_dir, total=2)
    queue = deque([Pending("a", spec(16), 60.0), Pending("b", spec(24), 60.0)])
    try:
        drive([Slot(worker, info, "k", queue)], RunConfig(), sink)
    finally:
        sink.close()
        ray.kill(worker)
    rows = read_journal(run_dir / "results.jsonl")
    assert [(r["job_id"], r["status"]) for r in rows] == [("a", "error"), ("b", "ok")]
    assert rows[0]["error"].startswith("the worker's call failed: RayTaskError(ValueError)")
    assert "raised outside any guard" in rows[0]["error"]
