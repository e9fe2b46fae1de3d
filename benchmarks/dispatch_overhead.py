"""What the driver costs per job: 1,000 tiny jobs over 1 and N workers, and the time no worker was
running one (dispatch, the row's round trip, the journal's fsync, the progress line).

Runs on a local Ray cluster of fake GPU slots (CPU compute), `spread` placement, each job a
sub-millisecond SDPA point timed by 6 reps. Prints, per worker count, the jobs' own time, the
driver loop's span, and the idle time per job: span x workers minus the jobs' time, over the jobs.
On a machine with N GPUs, --real uses them.

    python benchmarks/dispatch_overhead.py [N] [JOBS] [--real]      # default N = 2, 1000 jobs
"""
from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.scaling import run_on, span_s


def sweep(jobs: int, real: bool) -> dict:
    return {"run": {"placement": "spread", "measure_ceilings": False},
            "timing": {"warmup_reps": 1, "warmup_ms": 0, "min_reps": 6, "max_reps": 6, "target_rel_ci": 0.0,
                       "min_timed_ms": 0, "burst": False},
            "sweeps": [{"name": "tiny", "device_type": "cuda" if real else "any",
                        "grid": {"batch": [1], "heads": [1], "seq_len": list(range(8, 8 + jobs)), "head_dim": [8],
                                 "dtype": ["float32"], "backend": ["math"]}}]}


def measure(workers: int, jobs: int, real: bool) -> tuple[float, float, int]:
    """(the jobs' own seconds, the driver loop's span in seconds, jobs) on `workers` workers."""
    frame = run_on(workers, real, sweep(jobs, real))
    return float(frame["duration_s"].sum()), span_s(frame), len(frame)


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    n, jobs, real = (numbers + [2])[0], (numbers[1:] + [1000])[0], "--real" in sys.argv
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if "--one" in sys.argv:  # one worker count, in a process of its own: a fresh Ray each time
        busy, span, done = measure(n, jobs, real)
        print(f"{n:>8}{done:>7}{busy:>12.2f}{span:>9.2f}{1e3 * (span * n - busy) / done:>13.2f}", flush=True)
        return
    print(f"{'workers':>8}{'jobs':>7}{'job time s':>12}{'span s':>9}{'idle ms/job':>13}", flush=True)
    for workers in (1, n):
        flags = ["--one", *(["--real"] if real else [])]
        subprocess.run([sys.executable, __file__, str(workers), str(jobs), *flags], check=True)


if __name__ == "__main__":
    main()
