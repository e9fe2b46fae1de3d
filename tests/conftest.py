"""Shared test fixtures: a real local Ray cluster with two fake GPUs, and a tiny config writer.

Ray 2.60 turns token auth on for local clusters; every process a test starts (the Ray cluster,
`sdpa-bench` subprocesses) sees the same RAY_AUTH_MODE, set here before anything imports Ray.
CUDA_VISIBLE_DEVICES is unset so Ray accepts `num_gpus=2` on a machine with no GPU.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ.pop("CUDA_VISIBLE_DEVICES", None)

ROOT = Path(__file__).resolve().parent.parent

# Small and fast on 2 CPU cores; timing loose on purpose (tests never assert timings).
FAST_TIMING = """
timing: {warmup_reps: 1, warmup_ms: 0, min_reps: 6, max_reps: 20, target_rel_ci: 0.2, budget_s: 0.2}
"""


@pytest.fixture(scope="session")
def ray_fake_gpus():
    """One Ray instance for the session: 2 CPUs and 2 fake GPUs (workers compute on the CPU)."""
    import ray

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, object_store_memory=128 * 2**20,
             log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config (FAST_TIMING prepended unless the text has its own) and return its path."""
    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text if "timing:" in text else FAST_TIMING + text)
        return path
    return write


def run_cli(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`python -m orchestrator ARGS` in a fresh process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=kwargs.pop("cwd", ROOT), **kwargs)
