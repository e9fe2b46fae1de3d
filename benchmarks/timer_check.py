"""Does sdpa-bench time SDPA right, and at what cost? (issue 3; needs a CUDA GPU and triton)

(a) PyTorch's SDPA tutorial shape (32x32x2048x224, fp16, torch.rand inputs), every backend, run
    twice through sdpa-bench with its default timing (500 ms warmup: the sustained clock), and
    timed in this same process, on the same inputs, by sdpa-bench's timer without Ray (twice) and
    by an independent timer, triton.testing.do_bench (median, its own L2 flush): with its
    defaults (25 ms warmup, 100 ms of reps: a short burst) and with a sustained protocol (500 ms
    warmup, 1000 ms of reps). NVML's SM clock and power are sampled every 2 ms during each
    in-process measurement, so a difference can be told from a power-state change.
(b) A FlashAttention-benchmark sweep (16k tokens, hidden 2048, head_dim 64/128, seq 512..16384,
    causal and not, bf16, fwd and fwd_bwd, math/flash/efficient/cudnn) through sdpa-bench, Ray
    start-up included, against a plain loop of do_bench over the same points. sdpa-bench runs
    it with do_bench's own warmup (25 ms): a burst protocol, like do_bench's (25 + 100 ms).

    python3 benchmarks/timer_check.py OUT_DIR [a|b|ab]
Prints a table last; writes OUT_DIR/timer_check.json with every number.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pynvml
import ray
import torch
import yaml
from triton.testing import do_bench

from analysis.frame import load_results
from clock_check import Sampler, phase
from jobs.backends import forced, is_oom
from jobs.sdpa_benchmark import build_call, make_inputs
from jobs.spec import JobSpec
from jobs.timing import TimingConfig, summarize, time_callable
from orchestrator.config import Config, parse
from orchestrator.launch import run_sweep

BACKENDS = ["default", "math", "flash", "efficient", "cudnn"]
TUTORIAL = {"batch": 32, "heads": 32, "seq_len": 2048, "head_dim": 224, "dtype": "float16", "inputs": "rand"}
FA_SEQ_LENS = [512, 1024, 2048, 4096, 8192, 16384]
# do_bench's burst protocol: 25 ms of warmup, and the 1% rule alone decides how long to time
FA_TIMING = {"warmup_reps": 1, "warmup_ms": 25, "min_reps": 6, "target_rel_ci": 0.01, "min_timed_ms": 0, "budget_s": 10}


def tutorial_config() -> dict:
    grid = {k: [v] for k, v in TUTORIAL.items()} | {"backend": BACKENDS}
    return {"run": {"measure_ceilings": False},
            "sweeps": [{"name": f"tutorial_{i}", "device_type": "cuda", "grid": grid} for i in (1, 2)]}


def fa_config() -> dict:
    sweeps = [{"name": f"fa_s{s}_d{d}", "device_type": "cuda",
               "grid": {"batch": [16384 // s], "heads": [2048 // d], "seq_len": [s], "head_dim": [d],
                        "dtype": ["bfloat16"], "causal": [False, True], "mode": ["fwd", "fwd_bwd"],
                        "backend": ["math", "flash", "efficient", "cudnn"]}}
              for s in FA_SEQ_LENS for d in (64, 128)]
    return {"run": {"measure_ceilings": False}, "timing": FA_TIMING, "sweeps": sweeps}


def run_through_sdpa_bench(config: dict, run_dir: Path):
    """Fresh Ray each time, so start-up is inside the measured wall time."""
    t0 = time.perf_counter()
    run_sweep(parse(Config, config, "config"), yaml.safe_dump(config), run_dir, address=None)
    wall = time.perf_counter() - t0
    ray.shutdown()
    return load_results(run_dir), wall


def spec_of(row) -> JobSpec:
    fields = JobSpec.__dataclass_fields__
    return JobSpec(**{k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in fields})


def do_bench_median(spec: JobSpec, **protocol) -> float | None:
    """do_bench's median on the same inputs sdpa-bench builds; None when it runs out of memory."""
    device = torch.device("cuda:0")
    try:
        q, k, v = make_inputs(spec, device, grad=spec.mode != "fwd")
        with forced(spec, device):
            fn = build_call(spec, q, k, v)
            return do_bench(fn, return_mode="median", **protocol)
    except RuntimeError as err:
        if not is_oom(err):
            raise
        return None
    finally:
        torch.cuda.empty_cache()


def in_process(spec: JobSpec, sampler: Sampler) -> list[dict]:
    """sdpa-bench's timer and do_bench in turn on one callable, each with the power state it ran in."""
    device = torch.device("cuda:0")
    q, k, v = make_inputs(spec, device, grad=spec.mode != "fwd")
    protocols = [("sdpa_timer", lambda fn: summarize(time_callable(fn, device, TimingConfig()).times_ms).median_ms),
                 ("do_bench", lambda fn: do_bench(fn, return_mode="median")),
                 ("do_bench_sustained", lambda fn: do_bench(fn, warmup=500, rep=1000, return_mode="median")),
                 ("sdpa_timer_again", lambda fn: summarize(time_callable(fn, device, TimingConfig()).times_ms).median_ms)]
    with forced(spec, device):
        fn = build_call(spec, q, k, v)
        return [phase(sampler, name, lambda: measure(fn)) for name, measure in protocols]


def part_a(out: Path) -> list[dict]:
    frame, _ = run_through_sdpa_bench(tutorial_config(), out / "run_a")
    pynvml.nvmlInit()
    rows, sampler = [], Sampler()
    sampler.start()
    for backend in BACKENDS:
        r1, r2 = (frame[(frame.sweep == f"tutorial_{i}") & (frame.backend == backend)].iloc[0] for i in (1, 2))
        timers = {m["phase"]: m for m in in_process(spec_of(r1), sampler)}
        torch.cuda.empty_cache()  # or this process keeps math's ~47 GB and the workers of (b) run out
        burst, sustained = timers["do_bench"]["median_ms"], timers["do_bench_sustained"]["median_ms"]
        rows.append({"backend": backend, "run1_ms": r1.median_ms, "run2_ms": r2.median_ms, "do_bench_ms": burst,
                     "do_bench_sustained_ms": sustained, "vs_do_bench_pct": 100 * (r1.median_ms / burst - 1),
                     "vs_sustained_pct": 100 * (r1.median_ms / sustained - 1),
                     "repeat_pct": 100 * (r2.median_ms / r1.median_ms - 1), "n_reps": int(r1.n_reps), "ci_rel": r1.ci_rel,
                     "stop_reason": r1.stop_reason, "dispatched": r1.dispatched, "throttle": r1.throttle_reasons,
                     **{f"run{i}_{k}": r[k] for i, r in ((1, r1), (2, r2))
                        for k in ("sm_clock_mhz", "power_mean_w", "gpu_temp_max_c", "n_reps")},
                     "in_process": list(timers.values())})
    sampler.stop = True
    return rows


def part_b(out: Path) -> dict:
    free, total = torch.cuda.mem_get_info()
    assert free > 0.95 * total - 2**30, f"(b) needs the whole GPU, but only {free / 2**30:.1f} GiB are free"
    frame, wall = run_through_sdpa_bench(fa_config(), out / "run_b")
    t0 = time.perf_counter()
    refs = [do_bench_median(spec_of(r)) for _, r in frame.iterrows()]
    plain_wall = time.perf_counter() - t0
    ok = frame[frame.status == "ok"]
    startup = json.loads((out / "run_b" / "manifest.json").read_text())["sessions"][-1]["startup_s"]
    return {"startup_s": startup, "jobs_s": float(frame.duration_s.sum()), "points": len(frame), "ok": len(ok), "status_counts": frame.status.value_counts().to_dict(),
            "converged": int((ok.stop_reason == "converged").sum()), "sdpa_bench_wall_s": wall,
            "do_bench_loop_wall_s": plain_wall, "ratio": wall / plain_wall,
            "do_bench_oom": sum(r is None for r in refs),
            "max_abs_vs_do_bench_pct": max(abs(100 * (m / r - 1)) for m, r in zip(frame.median_ms, refs) if r and m == m),
            "rows": [{**{k: r[k] for k in ("sweep", "backend", "causal", "mode", "status", "median_ms", "tflops", "n_reps",
                                           "ci_rel", "stop_reason", "dispatched", "duration_s", "sm_clock_mhz",
                                           "power_mean_w", "gpu_temp_max_c", "throttle_reasons")}, "do_bench_ms": ref}
                     for (_, r), ref in zip(frame.iterrows(), refs)]}


def main(out: Path, parts: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    a = part_a(out) if "a" in parts else []
    b = part_b(out) if "b" in parts else {}
    (out / "timer_check.json").write_text(json.dumps({"a": a, "b": b}, indent=1, default=str))
    print("\n(a) tutorial shape: sdpa-bench vs triton do_bench (median ms)")
    print(f"{'backend':<10}{'run1':>9}{'run2':>9}{'db':>9}{'db 1s':>9}{'vs db%':>8}{'vs 1s%':>8}{'rep %':>7}{'reps':>5}"
          f"{'ci %':>6}  MHz, W, C (run 1 | run 2)  throttle")
    for r in a:
        state = " | ".join(f"{r[f'run{i}_sm_clock_mhz']:.0f} {r[f'run{i}_power_mean_w']:.0f} {r[f'run{i}_gpu_temp_max_c']}"
                           for i in (1, 2))
        print(f"{r['backend']:<10}{r['run1_ms']:>9.3f}{r['run2_ms']:>9.3f}{r['do_bench_ms']:>9.3f}{r['do_bench_sustained_ms']:>9.3f}"
              f"{r['vs_do_bench_pct']:>8.2f}{r['vs_sustained_pct']:>8.2f}{r['repeat_pct']:>7.2f}{r['n_reps']:>5}"
              f"{100 * r['ci_rel']:>6.2f}  {state}  {r['throttle']}")
    print("\n(a') the same callables in this process: median ms @ mean SM MHz, mean W")
    for r in a:
        print(f"{r['backend']:<10}" + "  ".join(f"{m['phase']} {m['median_ms']:.3f} @ {m.get('sm_mhz_mean', 0):.0f} MHz "
                                                 f"{m.get('power_w_mean', 0):.0f} W" for m in r["in_process"]))
    if not b:
        return
    print(f"\n(b) FA-style sweep: {b['points']} points, {b['status_counts']}, {b['converged']}/{b['ok']} ok points converged")
    print(f"    sdpa-bench {b['sdpa_bench_wall_s']:.1f} s (Ray start-up included) vs do_bench loop "
          f"{b['do_bench_loop_wall_s']:.1f} s: ratio {b['ratio']:.2f}; max |diff| vs do_bench {b['max_abs_vs_do_bench_pct']:.1f}%")
    print(f"    of which: Ray {b['startup_s']['ray']} s, workers {b['startup_s']['workers']} s, jobs {b['jobs_s']:.1f} s, "
          f"rest (driver, report) {b['sdpa_bench_wall_s'] - sum(b['startup_s'].values()) - b['jobs_s']:.1f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "ab")
