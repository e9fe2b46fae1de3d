"""Throughput of `spread` over N workers against one (issue 7): does the driver keep N devices busy?

Runs the same CPU sweep with `spread` placement on a local Ray cluster of 1 and of N fake GPU
slots (CPU compute, one torch thread per worker), and prints jobs per second and the speed-up.
On a machine with N real GPUs, pass --real to use them instead of fake slots.

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
from orchestrator.config import Config, parse
from orchestrator.launch import run_sweep

SWEEP = {"run": {"placement": "spread", "measure_ceilings": False},
         "timing": {"warmup_reps": 1, "warmup_ms": 50, "min_reps": 6, "max_reps": 6, "target_rel_ci": 0.0},
         "sweeps": [{"name": "scaling", "grid": {"batch": [2], "heads": [8], "seq_len": [128, 192, 256, 320],
                                                 "head_dim": [64], "dtype": ["float32"], "causal": [False, True], "mode": ["fwd", "fwd_bwd"],
                                                 "backend": ["math", "flash"], "inputs": ["randn", "rand"]}}]}


def throughput(devices: int, real: bool) -> tuple[float, int]:
    """(jobs per second over the driver loop, jobs) on `devices` workers."""
    if real:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(devices)))
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
    else:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        ray.init(address="local", num_cpus=devices, num_gpus=devices, include_dashboard=False, log_to_driver=False)
    config = parse(Config, SWEEP, "config")
    run_dir = Path(tempfile.mkdtemp()) / "run"
    run_sweep(config, yaml.safe_dump(SWEEP), run_dir, address=None)
    frame = load_results(run_dir)
    ray.shutdown()
    # the driver loop's span: first job's start (its finish minus its duration) to the last finish
    finished = frame["finished_at"].map(lambda s: datetime.datetime.fromisoformat(s).timestamp())
    span = finished.max() - (finished - frame["duration_s"]).min()
    return len(frame) / span, len(frame)


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), os.cpu_count() or 2))
    real = "--real" in sys.argv
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    one, jobs = throughput(1, real)
    many, _ = throughput(n, real)
    print(f"spread, {jobs} jobs: 1 device {one:.2f} jobs/s, {n} devices {many:.2f} jobs/s: "
          f"speed-up {many / one:.2f}x (target >= {0.9 * n:.1f}x)")


if __name__ == "__main__":
    main()
