"""Throughput of `spread` over N workers against one: does the driver keep N devices busy?

Runs the same CPU sweep with `spread` placement on a local Ray cluster of 1 and of N fake GPU
slots (CPU compute, one torch thread per worker), and prints jobs per second and the speed-up.
On a machine with N real GPUs, pass --real to use them instead of fake slots (and a GPU sweep).

    python benchmarks/scaling.py [N] [--real]
"""
from __future__ import annotations

import os
import datetime
import sys
import tempfile
from pathlib import Path

import ray
import yaml

from analysis.frame import load_results
from orchestrator.config import config_from_data
from orchestrator.launch import run_sweep

CPU_SWEEP = {"run": {"placement": "spread", "measure_ceilings": False},
         "timing": {"warmup_reps": 1, "warmup_ms": 50, "min_reps": 6, "max_reps": 6, "target_rel_ci": 0.0},
         "sweeps": [{"name": "scaling", "grid": {"batch": [2], "heads": [8], "seq_len": [128, 192, 256, 320],
                                                 "head_dim": [64], "dtype": ["float32"], "causal": [False, True],
                                                 "mode": ["fwd", "fwd_bwd"],
                                                 "backend": ["math", "flash"], "inputs": ["randn", "rand"]}}]}
# On real GPUs: 96 points a GPU benchmark would run, 0.1-1 s each (100 ms warmup).
GPU_SWEEP = {"run": {"placement": "spread", "measure_ceilings": False}, "timing": {"warmup_ms": 100},
             "sweeps": [{"name": "scaling", "device_type": "cuda",
                         "grid": {"batch": [4], "heads": [16], "seq_len": [1024, 2048, 4096], "head_dim": [64, 128],
                                  "dtype": ["bfloat16"], "causal": [False, True], "mode": ["fwd", "fwd_bwd"],
                                  "backend": ["math", "flash", "efficient", "cudnn"]}}]}


def run_on(devices: int, real: bool, sweep: dict):
    """The rows of `sweep` run on a fresh local Ray of `devices` workers (real GPUs, or fake slots)."""
    if real:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(devices)))
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
    else:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        ray.init(address="local", num_cpus=devices, num_gpus=devices, include_dashboard=False, log_to_driver=False)
    run_dir = Path(tempfile.mkdtemp()) / "run"
    run_sweep(config_from_data(sweep), yaml.safe_dump(sweep), run_dir, address=None)
    ray.shutdown()
    return load_results(run_dir)


def span_s(frame) -> float:
    """The driver loop's span: the first job's start (its finish minus its duration) to the last finish."""
    finished = frame["finished_at"].map(lambda s: datetime.datetime.fromisoformat(s).timestamp())
    return float(finished.max() - (finished - frame["duration_s"]).min())


def throughput(devices: int, real: bool) -> tuple[float, int]:
    """(jobs per second over the driver loop, jobs) on `devices` workers."""
    frame = run_on(devices, real, GPU_SWEEP if real else CPU_SWEEP)
    return len(frame) / span_s(frame), len(frame)


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), os.cpu_count() or 2))
    real = "--real" in sys.argv
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # N, 1, N: whichever run comes first on a fresh machine also pays for loading the CUDA
    # libraries from disk (on 2 H100s, 1-then-N read 2.40x, above linear); the two N runs bracket it
    many_first, jobs = throughput(n, real)
    one, _ = throughput(1, real)
    many = throughput(n, real)[0]
    print(f"spread, {jobs} jobs: 1 device {one:.2f} jobs/s, {n} devices {many_first:.2f} then {many:.2f} jobs/s: "
          f"speed-up {many_first / one:.2f}x / {many / one:.2f}x (target >= {0.9 * n:.1f}x)")


if __name__ == "__main__":
    main()
