"""Fault isolation with real faults on a real Ray cluster (two fake GPUs, CPU compute):
a real allocation failure, a real exception, a real process exit, a real kill -9 of the
worker's pid, a real sleep past the timeout. Every job is accounted for exactly once."""
import os
import signal
import threading
import pytest

from analysis import load_results
from orchestrator.cluster import start_workers
from orchestrator.config import ConfigError, MemoryBudget, load_config
from orchestrator.driver import Slot, device_keys, drive, placement_key, plan_queues
from orchestrator.launch import run_sweep
from base.journal import read_journal
from base.rundir import RunDir
from orchestrator.sink import RunSink
from orchestrator.sweep import expand_config

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

FAULTS = """
run: {{max_retries: {retries}}}
sweeps:
  - name: faults
    job: fault_injection
    job_timeout_s: 3
    grid: {{batch: [1], heads: [2], seq_len: [16], head_dim: [8], dtype: [float32], backend: [math],
           fault: [{faults}]}}
"""


def run(write_config, tmp_path, faults: str, retries: int = 1, extra: str = ""):
    path = write_config(FAULTS.format(faults=faults, retries=retries) + extra)
    run_sweep(load_config(path), path.read_text(), tmp_path / "run", address=None)
    return load_results(tmp_path / "run")


def statuses(frame, device="cuda:0"):
    rows = frame[frame["device"] == device]
    return list(zip(rows["fault"], rows["status"], rows["attempt"]))


def test_each_fault_becomes_its_row_and_the_worker_goes_on(ray_fake_gpus, write_config, tmp_path):
    frame = run(write_config, tmp_path, "oom, error, crash, exit, interrupt, hang, none")
    assert len(frame) == 14 and frame["job_id"].is_unique  # 7 jobs x 2 devices, each once
    for device in ("cuda:0", "cuda:1"):
        assert statuses(frame, device) == [("oom", "oom", 1), ("error", "error", 1), ("crash", "crashed", 2),
                                           ("exit", "crashed", 1), ("interrupt", "crashed", 1),
                                           ("hang", "timeout", 1), ("none", "ok", 1)]
    oom = frame[frame["fault"] == "oom"].iloc[0]
    assert "can't allocate memory: you tried to allocate 1125899906842624 bytes" in oom["error"]
    err = frame[frame["fault"] == "error"].iloc[0]["error"]
    assert err.startswith("InjectedError: injected by fault_injection") and "faults.py" in err  # traceback tail
    assert "worker process died 2 time(s)" in frame[frame["fault"] == "crash"].iloc[0]["error"]
    assert "no result after 3 s" in frame[frame["fault"] == "hang"].iloc[0]["error"]


def test_retries_are_configurable(ray_fake_gpus, write_config, tmp_path):
    frame = run(write_config, tmp_path, "crash, none", retries=0)
    assert statuses(frame) == [("crash", "crashed", 1), ("none", "ok", 1)]


def test_kill_9_of_a_worker_costs_only_its_running_job(ray_fake_gpus, write_config, tmp_path):
    """A real SIGKILL from outside, while the worker runs a long job; the other device never notices."""
    path = write_config(FAULTS.format(faults="hang, none, error", retries=0).replace("job_timeout_s: 3", "job_timeout_s: 8"))
    config = load_config(path)
    workers = start_workers(config.timing, MemoryBudget(), max_restarts=-1)
    infos = [info for _, info in workers]
    keys = device_keys(infos)
    queues = plan_queues(expand_config(config), list(zip(infos, keys)), "every_device", set())
    slots = [Slot(w, i, k, queues[placement_key(i, k, "every_device")]) for (w, i), k in zip(workers, keys)]
    victim = next(s for s in slots if s.info.device == "cuda:0")
    pid = victim.info.pid
    other_pid = next(s for s in slots if s.info.device == "cuda:1").info.pid
    run_dir = RunDir(tmp_path / "run")
    run_dir.open_session({}, "", {"format": 2, "columns": {}, "jobs": {}}, [], {})
    run_dir.record_devices(infos)
    sink = RunSink(run_dir, total=6)
    killer = threading.Timer(2.0, os.kill, (pid, signal.SIGKILL))
    killer.start()
    try:
        drive(slots, config.run, sink)
    finally:
        sink.close()
        for w, _ in workers:
            ray_fake_gpus.kill(w)
    rows = read_journal(tmp_path / "run" / "results.jsonl")
    by_device = {d: [(r["fault"], r["status"]) for r in rows if r["device"] == d] for d in ("cuda:0", "cuda:1")}
    assert by_device["cuda:0"] == [("hang", "crashed"), ("none", "ok"), ("error", "error")]
    # cuda:1 was never killed: its hang ran into the 8 s timeout instead of a crash
    assert by_device["cuda:1"] == [("hang", "timeout"), ("none", "ok"), ("error", "error")]
    # the manifest names the processes that live now: both were restarted (a kill, a timeout)
    pids = {d["device"]: d["pid"] for d in RunDir(tmp_path / "run").manifest()["sessions"][-1]["devices"]}
    assert pids["cuda:0"] != pid and pids["cuda:1"] != other_pid


def test_skip_larger_after_oom(ray_fake_gpus, write_config, tmp_path):
    text = """
run: {skip_larger_after_oom: true}
sweeps:
  - name: big
    job: fault_injection
    grid: {batch: [1], heads: [2], seq_len: [16, 32, 8], head_dim: [8], dtype: [float32],
           backend: [math, flash], fault: [oom]}
"""
    path = write_config(text)
    run_sweep(load_config(path), path.read_text(), tmp_path / "run", address=None)
    frame = load_results(tmp_path / "run")
    rows = frame[frame["device"] == "cuda:0"]
    got = {(r.seq_len, r.backend): r.status for r in rows.itertuples()}
    # seq 16 runs out of memory first, so 32 (strictly larger, same backend) is skipped;
    # 8 is smaller and still runs (and runs out of memory again: the fault is always on)
    assert got == {(16, "math"): "oom", (32, "math"): "skipped", (8, "math"): "oom",
                   (16, "flash"): "oom", (32, "flash"): "skipped", (8, "flash"): "oom"}
    assert "a smaller shape (b1 h2 s16 d8 float32 fwd fault=oom) ran out of memory" in rows[rows["status"] == "skipped"].iloc[0]["error"]
    assert len(frame) == 12


def test_memory_budget_is_validated(write_config):
    text = "run: {memory_budget: {fraction: 1.5}}\n" + FAULTS.format(faults="none", retries=0).replace("run: {max_retries: 0}\n", "")
    with pytest.raises(ConfigError, match=r"config.run.memory_budget.fraction: 1.5 is not allowed; it must be <= 1.0"):
        load_config(write_config(text))
