"""The baseline of timer_check (b): a plain loop of triton's do_bench over a config's points.

    python3 benchmarks/do_bench_loop.py CONFIG OUT_JSON [--once]

What a hand-written script would do, as its own process: import torch and triton, make a CUDA
context, then for each point build the same inputs and callable sdpa-bench builds and take
do_bench's median (its default protocol: 25 ms warmup, 100 ms of reps, its own L2 flush). No Ray,
no profiling, no report. Writes the seconds it spent before its first point, in its points, and
each point's median (None where do_bench ran out of memory) to OUT_JSON. Needs a CUDA GPU.
With --once each point is called once, untimed: the first process on a machine to run a
set of cuDNN attention points pays ~9 s that later processes do not (timer-check-v5), so a
comparison of two commands starts after such a pass.
"""
from __future__ import annotations

import time

T_START = time.perf_counter()  # the interpreter's own start is before this; the caller times the whole process

import json  # noqa: E402 - after T_START on purpose: imports are part of what is measured
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from triton.testing import do_bench  # noqa: E402

from jobs.backends import forced, is_oom  # noqa: E402
from jobs.sdpa_benchmark import build_call, make_inputs  # noqa: E402
from jobs.spec import JobSpec  # noqa: E402
from orchestrator.config import load_config  # noqa: E402
from orchestrator.sweep import expand_config  # noqa: E402


def call_once(fn) -> float:
    fn()
    torch.cuda.synchronize()
    return 0.0


def median_ms(spec: JobSpec, device: torch.device, measure) -> float | None:
    """`measure` (do_bench's median) on sdpa-bench's inputs for `spec`; None when out of memory."""
    try:
        q, k, v = make_inputs(spec, device, grad=spec.mode != "fwd")
        with forced(spec, device):
            return measure(build_call(spec, q, k, v))
    except RuntimeError as err:
        if not is_oom(err):
            raise
        return None
    finally:
        torch.cuda.empty_cache()


def main(config_path: Path, out: Path, once: bool) -> None:
    specs = [job.spec for job in expand_config(load_config(config_path)) if job.spec.job == "sdpa_benchmark"]
    device = torch.device("cuda:0")
    torch.zeros(1, device=device)  # the CUDA context: every script pays it before its first point
    measure = call_once if once else (lambda fn: do_bench(fn, return_mode="median"))
    t_first = time.perf_counter()
    points = []
    for spec in specs:
        t0 = time.perf_counter()
        points.append({"point": f"{spec.backend} {spec.label()}", "median_ms": median_ms(spec, device, measure),
                       "wall_s": time.perf_counter() - t0})
    t_end = time.perf_counter()
    out.write_text(json.dumps({"startup_s": t_first - T_START, "points_s": t_end - t_first, "points": points}))
    print(f"do_bench loop: {len(points)} points in {t_end - t_first:.1f} s after {t_first - T_START:.1f} s "
          f"of imports and CUDA context")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), once="--once" in sys.argv[3:])
