"""What one short `sdpa_benchmark` point costs besides its warmup and timed reps (issue 3's sweep
wall time: ~190 points, so 10 ms a point is 2 s). Needs a CUDA GPU.

    python3 benchmarks/job_overhead.py

Runs one short point (2x16x4096x128 bf16 cuDNN forward, ~0.5 ms) 10 times to warm every cache,
then 30 times under cProfile with the sweep's burst timing (25 ms warmup, 1% rule), and prints
the wall time per job and the functions with the most cumulative time.
"""
from __future__ import annotations

import cProfile
import pstats
import time

import torch

from jobs.sdpa_benchmark import sdpa_benchmark
from jobs.spec import JobSpec
from jobs.timing import TimingConfig

SPEC = JobSpec(job="sdpa_benchmark", sweep="x", backend="cudnn", batch=2, heads=16, kv_heads=16, seq_len=4096,
               kv_len=4096, head_dim=128, dtype="bfloat16", causal=False, mode="fwd", seed=0, inputs="randn")
PROFILED_JOBS = 30
BURST = TimingConfig(warmup_reps=1, warmup_ms=25, min_reps=6, target_rel_ci=0.01, min_timed_ms=0, budget_s=10)


def main() -> None:
    device = torch.device("cuda:0")
    torch.zeros(1, device=device)  # a CUDA context first, as the worker's start makes one
    for _ in range(10):
        sdpa_benchmark(SPEC, device, BURST)
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    outcomes = [sdpa_benchmark(SPEC, device, BURST) for _ in range(PROFILED_JOBS)]
    profile.disable()
    per_job_ms = (time.perf_counter() - t0) / PROFILED_JOBS * 1e3
    timed_ms = sum(sum(o.samples_ms) for o in outcomes) / len(outcomes)
    print(f"per job {per_job_ms:.1f} ms wall, of which timed reps {timed_ms:.1f} ms, warmup >= 25 ms; "
          f"median {outcomes[-1].metrics['median_ms']:.3f} ms, reps {outcomes[-1].metrics['n_reps']}")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
