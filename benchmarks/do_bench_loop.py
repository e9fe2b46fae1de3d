"""An independent timer over a config's points, for sdpa-bench's numbers to be held against.

    python3 benchmarks/do_bench_loop.py CONFIG OUT_JSON [--warmup MS --rep MS] [--burst] [--once]
                                        [--backends a,b] [--sweeps s1,s2] [--jobs decode] [--match REGEX]

What a hand-written script would do, as its own process: import torch and triton, make a CUDA
context, then for each point build the same callable sdpa-bench builds (each job's `prepared`: its
inputs, layout and plan) and time it, with no Ray, no profiling, no report:
- by default triton's do_bench, its median (25 ms warmup, 100 ms of reps, its own L2 flush;
  --warmup/--rep for a sustained one, e.g. 1000 and 2000);
- with --burst, what vendors' tables time: 3 s of idle, then 10 CUDA-event-timed calls (a 256 MB
  L2 flush before each, outside the events), their median;
- with --once, each point called once, untimed (a first pass: the first process on a machine to
  run cuDNN's attention pays ~9 s that later ones do not).
Writes each point's milliseconds (None where it ran out of memory or the implementation cannot run
it) to OUT_JSON, keyed as benchmarks/against_do_bench.py finds them. Needs a CUDA GPU.
"""
from __future__ import annotations

import time

T_START = time.perf_counter()  # the interpreter's own start is before this; the caller times the whole process

import json  # noqa: E402 - after T_START on purpose: imports are part of what is measured
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from triton.testing import do_bench  # noqa: E402

from jobs import decode, sdpa_benchmark, varlen_prefill  # noqa: E402
from jobs.backends import is_oom  # noqa: E402
from jobs.contract import Unsupported  # noqa: E402
from orchestrator.config import load_config  # noqa: E402
from orchestrator.sweep import expand_config  # noqa: E402

PREPARED = {"sdpa_benchmark": sdpa_benchmark.prepared, "decode": decode.prepared,
            "varlen_prefill": varlen_prefill.prepared}
IDLE_S, BURST_CALLS = 3.0, 10


def call_once(fn) -> float:
    fn()
    torch.cuda.synchronize()
    return 0.0


def burst(fn) -> float:
    """3 s idle, then the median of 10 event-timed calls, L2 flushed before each."""
    flush = torch.empty(256 * 2**20 // 4, dtype=torch.int32, device="cuda")
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(BURST_CALLS)]
    torch.cuda.synchronize()
    time.sleep(IDLE_S)
    for start, end in events:
        flush.zero_()
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in events)


def milliseconds(spec, device: torch.device, measure) -> float | None:
    """`measure` of the job's own callable at `spec`; None when out of memory or unsupported."""
    try:
        with PREPARED[spec.job](spec.params, spec.seed, device) as (fn, _):
            fn()  # a compile, a plan's first use: never timed
            torch.cuda.synchronize()
            return measure(fn)
    except Unsupported:
        return None
    except RuntimeError as err:
        if not is_oom(err):
            raise
        return None
    finally:
        torch.cuda.empty_cache()


def point_key(spec) -> str:
    """How against_do_bench.py finds a point in both commands' results."""
    return f"{spec.params.implementation()} {spec.sweep} {spec.label()}"


def chosen(job, backends: set[str], sweeps: set[str], jobs: set[str]) -> bool:
    spec, match = job.spec, option("--match")
    return (spec.job in PREPARED and (not jobs or spec.job in jobs) and (not sweeps or spec.sweep in sweeps)
            and (not backends or spec.params.backend in backends) and job.device_type != "cpu"
            and (not match or re.search(match, spec.label()) is not None))


def main(config_path: Path, out: Path, mode: str, protocol: dict, backends: set[str], sweeps: set[str],
         jobs: set[str]) -> None:
    specs = [job.spec for job in expand_config(load_config(config_path)) if chosen(job, backends, sweeps, jobs)]
    device = torch.device("cuda:0")
    torch.zeros(1, device=device)  # the CUDA context: every script pays it before its first point
    measure = {"once": call_once, "burst": burst}.get(mode, lambda fn: do_bench(fn, return_mode="median", **protocol))
    t_first = time.perf_counter()
    points = []
    for spec in specs:
        t0 = time.perf_counter()
        points.append({"point": point_key(spec), "median_ms": milliseconds(spec, device, measure),
                       "wall_s": time.perf_counter() - t0})
        print(f"{points[-1]['point']}: {points[-1]['median_ms']} ms", flush=True)
        # after every point: a loop stopped at its time limit keeps what it measured
        out.write_text(json.dumps({"mode": mode, "protocol": protocol, "startup_s": t_first - T_START,
                                   "points_s": time.perf_counter() - t_first, "points": points}))
    print(f"do_bench loop ({mode}): {len(points)} points in {time.perf_counter() - t_first:.1f} s after "
          f"{t_first - T_START:.1f} s of imports and CUDA context")


def option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


if __name__ == "__main__":
    protocol = {k: float(option(f"--{k}")) for k in ("warmup", "rep") if option(f"--{k}")}
    mode = "once" if "--once" in sys.argv else "burst" if "--burst" in sys.argv else "do_bench"
    main(Path(sys.argv[1]), Path(sys.argv[2]), mode, protocol,
         *(set(filter(None, (option(name) or "").split(","))) for name in ("--backends", "--sweeps", "--jobs")))
