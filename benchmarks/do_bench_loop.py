"""The baseline of timer_check (b): a plain loop of triton's do_bench over a config's points.

    python3 benchmarks/do_bench_loop.py CONFIG OUT_JSON [--once] [--warmup MS --rep MS] [--backends a,b]
                                        [--sweeps s1,s2]

What a hand-written script would do, as its own process: import torch and triton, make a CUDA
context, then for each point build the same inputs (in the implementation's layout) and callable
sdpa-bench builds and take do_bench's median (by default its own protocol: 25 ms warmup, 100 ms of
reps, its own L2 flush; --warmup/--rep for a sustained one). No Ray, no profiling, no report.
Writes the seconds it spent before its first point, in its points, and each point's median (None
where it ran out of memory or the implementation cannot run it) to OUT_JSON. Needs a CUDA GPU.
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

from base.point import JobSpec, implementation  # noqa: E402
from jobs.backends import forced, is_oom, layout  # noqa: E402
from jobs.sdpa_benchmark import build_call, make_inputs  # noqa: E402
from jobs.spec import Unsupported  # noqa: E402
from orchestrator.config import load_config  # noqa: E402
from orchestrator.sweep import expand_config  # noqa: E402


def call_once(fn) -> float:
    fn()
    torch.cuda.synchronize()
    return 0.0


def median_ms(spec: JobSpec, device: torch.device, measure) -> float | None:
    """`measure` (do_bench's median) on sdpa-bench's inputs for `spec`; None when out of memory."""
    try:
        q, k, v = make_inputs(spec, device, grad=spec.mode != "fwd", order=layout(spec))
        with forced(spec, device):
            return measure(build_call(spec, q, k, v))
    except Unsupported:
        return None
    except RuntimeError as err:
        if not is_oom(err):
            raise
        return None
    finally:
        torch.cuda.empty_cache()


def point_key(spec: JobSpec) -> str:
    """How timer_check and implementations_check find a point in both commands' results."""
    return f"{implementation(spec.backend, spec.flash_impl)} {spec.sweep} {spec.label()}"


def main(config_path: Path, out: Path, once: bool, protocol: dict, backends: set[str], sweeps: set[str]) -> None:
    specs = [job.spec for job in expand_config(load_config(config_path)) if job.spec.job == "sdpa_benchmark"
             and (not backends or job.spec.backend in backends) and (not sweeps or job.spec.sweep in sweeps)]
    device = torch.device("cuda:0")
    torch.zeros(1, device=device)  # the CUDA context: every script pays it before its first point
    measure = call_once if once else (lambda fn: do_bench(fn, return_mode="median", **protocol))
    t_first = time.perf_counter()
    points = []
    for spec in specs:
        t0 = time.perf_counter()
        points.append({"point": point_key(spec), "median_ms": median_ms(spec, device, measure),
                       "wall_s": time.perf_counter() - t0})
    t_end = time.perf_counter()
    out.write_text(json.dumps({"startup_s": t_first - T_START, "points_s": t_end - t_first, "points": points}))
    print(f"do_bench loop: {len(points)} points in {t_end - t_first:.1f} s after {t_first - T_START:.1f} s "
          f"of imports and CUDA context")


def option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


if __name__ == "__main__":
    chosen = {k: float(option(f"--{k}")) for k in ("warmup", "rep") if option(f"--{k}")}
    main(Path(sys.argv[1]), Path(sys.argv[2]), "--once" in sys.argv[3:], chosen,
         *(set(filter(None, (option(name) or "").split(","))) for name in ("--backends", "--sweeps")))
