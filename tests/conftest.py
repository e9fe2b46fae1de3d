"""Shared test fixtures: a real local Ray cluster with two fake GPUs, a tiny config writer, points
and job contexts for calling job functions directly, and run directories written by hand.

Ray 2.60 turns token auth on for local clusters; every process a test starts (the Ray cluster,
`sdpa-bench` subprocesses) sees the same RAY_AUTH_MODE, set here before anything imports Ray.
CUDA_VISIBLE_DEVICES is unset so Ray accepts `num_gpus=2` on a machine with no GPU.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from base.point import JobSpec
from base.settings import TimingConfig
from jobs.contract import JobContext
from jobs.dense import DenseParams
from jobs.settle import CapCycle

os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ.pop("CUDA_VISIBLE_DEVICES", None)

ROOT = Path(__file__).resolve().parent.parent

# Small and fast on 2 CPU cores; timing loose on purpose (tests never assert timings).
FAST_TIMING = """
timing: {warmup_reps: 1, warmup_ms: 0, min_reps: 6, max_reps: 20, target_rel_ci: 0.2, min_timed_ms: 0, budget_s: 0.2}
"""
FAST = TimingConfig(warmup_reps=1, warmup_ms=0, min_reps=6, max_reps=10, target_rel_ci=0.5, min_timed_ms=0, budget_s=0.2)


INTEGRATION_FIXTURES = {"ray_fake_gpus", "two_node_cluster", "small_fs"}  # Ray clusters, a mounted filesystem


def pytest_collection_modifyitems(items):
    """A test that takes a Ray cluster or a mounted filesystem is an integration test."""
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children: it grows once any subprocess has run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ray_running() -> bool:
    return "ray" in sys.modules and sys.modules["ray"].is_initialized()


@pytest.fixture(autouse=True)
def fast_tier(request):
    """A test not marked `integration` starts neither Ray nor a subprocess: what makes the fast tier
    (`pytest -m "not integration"`) fast. Checked after every such test, not assumed."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    ray_before, children_before = ray_running(), children_cpu_s()
    yield
    assert ray_running() == ray_before, "this test started Ray: mark it integration"
    assert children_cpu_s() == children_before, "this test ran a subprocess: mark it integration"


def dense(candidates: dict | None = None, **fields) -> DenseParams:
    """A resolved dense attention point, small for the CPU; override any field."""
    base = dict(backend="math", dtype="float32", batch=2, heads=4, seq_len=33, head_dim=16)
    return DenseParams(**{**base, **fields}).resolved(candidates or {})


def job_spec(params, job: str = "sdpa_benchmark", sweep: str = "t", seed: int = 0) -> JobSpec:
    return JobSpec(job=job, sweep=sweep, seed=seed, params=params)


def context(timing: TimingConfig = FAST, seed: int = 0, device: str = "cpu") -> JobContext:
    """What a worker hands a job, for calling a job function directly."""
    return JobContext(torch.device(device), timing, seed, CapCycle())


@pytest.fixture
def ray_fake_gpus():
    """A Ray instance with 2 CPUs and 2 fake GPUs (workers compute on the CPU), started on first
    use and kept for the tests after it; a test that needs a cluster of its own shuts it down."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, num_gpus=2, include_dashboard=False,
                 object_store_memory=128 * 2**20, log_to_driver=False)
    yield ray


@pytest.fixture
def two_node_cluster():
    """Two real Ray nodes (separate raylet processes) with one fake GPU each, this process attached."""
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1})
    worker_node = cluster.add_node(num_cpus=1, num_gpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster, worker_node
    ray.shutdown()
    cluster.shutdown()


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


def synthetic_row(**fields) -> dict:
    """A results.jsonl row with every point field filled, for analysis tests; override any field."""
    base = dict(job_id="x", job="sdpa_benchmark", sweep="s", status="ok", error="", attempt=1, node="n", hostname="h",
                device="cuda:0", gpu_name="G", gpu_uuid="u", backend="flash", dtype="float16", batch=1, heads=1,
                kv_heads=1, seq_len=1, kv_len=1, head_dim=1, causal=False, mode="fwd", inputs="randn", seed=0,
                mask="is_causal", candidate="", fault="none")
    return {**base, **fields}


def write_rows(run_dir: Path, rows: list[dict]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run_dir


def device(name: str = "cuda:0", gpu: str = "G", **software) -> dict:
    """A manifest's device entry; `software` overrides torch_version, driver_version, power_limit_w..."""
    return {"node": "n", "hostname": "h", "device": name, "compute": name, "gpu_name": gpu, "gpu_uuid": name,
            "memory_gib": 80.0, "sm_count": 132, "compute_capability": "9.0", "torch_version": "2.11.0",
            "cuda_version": "13.0", "cudnn_version": "91900", "driver_version": "580.1", "power_limit_w": 700.0,
            **software}


def write_run(run_dir: Path, rows: list[dict], devices: list[dict] | None = None) -> Path:
    """A run directory as `sdpa-bench run` leaves it: the journal and a manifest naming its devices."""
    write_rows(run_dir, rows)
    devices = devices or [device(d, g) for d, g in dict.fromkeys((r["device"], r["gpu_name"]) for r in rows)]
    (run_dir / "manifest.json").write_text(json.dumps({"config": {}, "sessions": [{
        "started_at": "2026-11-25T10:00:00+00:00", "argv": [], "devices": devices,
        "versions": {"python": "3.11", "ray": "2.60.0", "torch": "2.11.0"}}]}))
    return run_dir
