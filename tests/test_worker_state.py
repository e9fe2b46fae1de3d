"""A job that changes torch's process-wide settings must not change the jobs after it: the
worker notices, the driver records the job's row and restarts the worker (real Ray, real torch)."""
import re
from pathlib import Path

from analysis import load_results
from orchestrator.config import load_config
from orchestrator.launch import run_sweep
import pytest

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

CONFIG = """
candidates: {careless: "tests.candidates:disables_grad"}
sweeps:
  - name: careless
    grid: {batch: [1], heads: [2], seq_len: [16], head_dim: [8], dtype: [float32], backend: [careless]}
  - name: after            # forward+backward: fails if autograd was left off
    grid: {batch: [1], heads: [2], seq_len: [16, 24], head_dim: [8], dtype: [float32], backend: [math], mode: [fwd_bwd]}
"""


def test_a_job_that_turns_autograd_off_costs_no_later_job(ray_fake_gpus, write_config, tmp_path, capsys):
    path = write_config(CONFIG)
    run_sweep(load_config(path), path.read_text(), tmp_path / "run", address=None)
    frame = load_results(tmp_path / "run")
    assert (frame[frame.sweep == "careless"].status == "ok").all()  # its own row is kept
    after = frame[frame.sweep == "after"]
    assert len(after) == 4 and (after.status == "ok").all(), after[["device", "status", "error"]]
    assert (after.attempt == 1).all()  # restarted between jobs, not under one
    said = [line for line in capsys.readouterr().out.splitlines() if "restarting the worker" in line]
    assert len(said) == 2 and all("grad_enabled" in line for line in said), said  # once per careless job, and why


def restarts(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if "restarting the worker" in line]


def sweep(write_config, tmp_path, candidate: str):
    path = write_config(f"""
candidates: {{careless: "tests.candidates:{candidate}"}}
sweeps:
  - name: careless
    grid: {{batch: [1], heads: [2], seq_len: [16], head_dim: [8], dtype: [float32], backend: [careless]}}
  - name: after
    grid: {{batch: [1], heads: [2], seq_len: [16, 24], head_dim: [8], dtype: [float32], backend: [math]}}
""")
    run_sweep(load_config(path), path.read_text(), tmp_path / "run", address=None)
    frame = load_results(tmp_path / "run")
    after = frame[frame.sweep == "after"]
    assert len(after) == 4 and (after.status == "ok").all() and (after.attempt == 1).all()
    return frame[frame.sweep == "careless"]


def test_a_job_that_replaces_the_clock_is_an_error_and_restarts_the_worker(ray_fake_gpus, write_config, tmp_path,
                                                                           capsys):
    careless = sweep(write_config, tmp_path, "replaces_perf_counter")
    assert (careless.status == "error").all() and careless.median_ms.isna().all()  # its times were read through it
    assert all(e.startswith("the job replaced time.perf_counter") for e in careless.error), careless.error.tolist()
    said = restarts(capsys)
    assert len(said) == 2 and all("the job replaced time.perf_counter" in line for line in said), said


def test_a_job_that_leaves_a_thread_running_restarts_the_worker(ray_fake_gpus, write_config, tmp_path, capsys):
    careless = sweep(write_config, tmp_path, "leaves_a_thread")
    assert (careless.status == "ok").all()  # its own row is kept, as for torch's settings
    said = restarts(capsys)
    assert len(said) == 2 and all("the job left 1 thread running (left-behind)" in line for line in said), said


def test_a_job_that_leaves_a_child_process_restarts_the_worker_and_ends_the_child(ray_fake_gpus, write_config,
                                                                                  tmp_path, capsys):
    careless = sweep(write_config, tmp_path, "leaves_a_child")
    assert (careless.status == "ok").all()
    said = restarts(capsys)
    assert len(said) == 2 and all("the job left 1 child process running" in line and "ended it" in line
                                  for line in said), said
    pids = [int(p) for line in said for p in re.findall(r"pid (\d+)", line)]
    assert len(pids) == 2 and not any(Path(f"/proc/{p}").exists() and "Z" not in state(p) for p in pids)


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
