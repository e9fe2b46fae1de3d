"""A job that changes torch's process-wide settings must not change the jobs after it: the
worker notices, the driver records the job's row and restarts the worker (real Ray, real torch)."""
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
