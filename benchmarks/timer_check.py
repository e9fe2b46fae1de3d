"""Does sdpa-bench time SDPA right, and at what cost? (issue 3; needs a CUDA GPU and triton)

(a) PyTorch's SDPA tutorial shape (32x32x2048x224, fp16, torch.rand inputs), every backend, run
    twice through sdpa-bench with its default timing (the adaptive protocol; the results of
    2026-11-25-h100-timer-check-v5 are the fixed one's: 1 s warmup, at least 2 s of reps), and
    timed in this same process, on the same inputs, by sdpa-bench's timer without Ray (twice) and
    by an independent timer, triton.testing.do_bench (median, its own L2 flush): with its
    defaults (25 ms warmup, 100 ms of reps: a short burst) and with a sustained protocol (500 ms
    warmup, 1000 ms of reps). NVML's SM clock and power are read every 20 ms during each
    in-process measurement, so a difference can be told from a power-state change.
(b) A FlashAttention-benchmark sweep (16k tokens, hidden 2048, head_dim 64/128, seq 512..16384,
    causal and not, bf16, fwd and fwd_bwd, math/flash/efficient/cudnn): the `sdpa-bench run`
    command (Ray start-up, report and shutdown included) against a plain loop of do_bench over
    the same points (benchmarks/do_bench_loop.py), each a fresh process timed from launch to exit,
    twice each, alternating. sdpa-bench runs it with do_bench's own warmup (25 ms): a burst
    protocol, like do_bench's (25 + 100 ms), with the 1% rule deciding how long to time.

    python3 benchmarks/timer_check.py OUT_DIR [a|b|ab]
Prints a table last; writes OUT_DIR/timer_check.json with every number.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import ray
import torch
import yaml
from triton.testing import do_bench

from analysis.frame import load_results
from base.point import SPEC_FIELDS, JobSpec
from base.settings import TimingConfig
from jobs.backends import forced
from jobs.gpu_state import GpuMonitor
from jobs.sdpa_benchmark import build_call, make_inputs
from jobs.timing import summarize, time_callable
from orchestrator.config import config_from_data
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
    run_sweep(config_from_data(config), yaml.safe_dump(config), run_dir, address=None)
    wall = time.perf_counter() - t0
    ray.shutdown()
    return load_results(run_dir), wall


def phase(monitor: GpuMonitor, name: str, run) -> dict:
    t0 = time.perf_counter()
    median = run()
    t1 = time.perf_counter()
    return {"phase": name, "median_ms": median, "wall_s": t1 - t0, **monitor.summary(t0, t1)}


def spec_of(row) -> JobSpec:
    row = row._asdict() if hasattr(row, "_asdict") else row
    return JobSpec(**{k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in SPEC_FIELDS})


def in_process(spec: JobSpec, monitor: GpuMonitor) -> list[dict]:
    """sdpa-bench's timer and do_bench in turn on one callable, each with the power state it ran in."""
    device = torch.device("cuda:0")
    q, k, v = make_inputs(spec, device, grad=spec.mode != "fwd")
    def ours(fn):
        return summarize(time_callable(fn, device, TimingConfig(), monitor=monitor).times_ms).median_ms
    protocols = [("sdpa_timer", ours), ("do_bench", lambda fn: do_bench(fn, return_mode="median")),
                 ("do_bench_sustained", lambda fn: do_bench(fn, warmup=500, rep=1000, return_mode="median")),
                 ("sdpa_timer_again", ours)]
    with forced(spec, device):
        fn = build_call(spec, q, k, v)
        return [phase(monitor, name, lambda: measure(fn)) for name, measure in protocols]


def part_a(out: Path) -> list[dict]:
    frame, _ = run_through_sdpa_bench(tutorial_config(), out / "run_a")
    rows, monitor = [], GpuMonitor(torch.device("cuda:0"))
    monitor.start()
    for backend in BACKENDS:
        r1, r2 = (frame[(frame.sweep == f"tutorial_{i}") & (frame.backend == backend)].iloc[0] for i in (1, 2))
        timers = {m["phase"]: m for m in in_process(spec_of(r1), monitor)}
        torch.cuda.empty_cache()  # or this process keeps math's ~47 GB and the workers of (b) run out
        burst, sustained = timers["do_bench"]["median_ms"], timers["do_bench_sustained"]["median_ms"]
        rows.append({"backend": backend, "run1_ms": r1.median_ms, "run2_ms": r2.median_ms, "do_bench_ms": burst,
                     "do_bench_sustained_ms": sustained, "vs_do_bench_pct": 100 * (r1.median_ms / burst - 1),
                     "vs_sustained_pct": 100 * (r1.median_ms / sustained - 1),
                     "repeat_pct": 100 * (r2.median_ms / r1.median_ms - 1), "n_reps": int(r1.n_reps),
                     "ci_rel": r1.ci_rel,
                     "stop_reason": r1.stop_reason, "dispatched": r1.dispatched, "throttle": r1.throttle_reasons,
                     **{f"run{i}_{k}": r[k] for i, r in ((1, r1), (2, r2))
                        for k in ("sm_clock_mhz", "power_mean_w", "gpu_temp_max_c", "n_reps")},
                     "in_process": list(timers.values())})
    monitor.stop()
    return rows


def timed_process(argv: list[str], log: Path) -> float:
    """Wall seconds of a fresh process, from launch to exit: what its user waits for."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - t0


def sdpa_bench_run(config: Path, out: Path, i: int) -> dict:
    """The `sdpa-bench run` command, Ray start-up, report and shutdown included."""
    run_dir = out / f"run_b{i}"
    wall = timed_process([sys.executable, "-m", "orchestrator", "run", "-c", str(config), "-o", str(run_dir)],
                         out / f"run_b{i}.log")
    frame = load_results(run_dir)
    ok = frame[frame.status == "ok"]
    startup = json.loads((run_dir / "manifest.json").read_text())["sessions"][-1]["startup_s"]
    return {"wall_s": wall, "startup_s": startup,
            "jobs_s": float(frame.duration_s.sum()), "points": len(frame), "ok": len(ok),
            "converged": int((ok.stop_reason == "converged").sum()), "reps": int(ok.n_reps.sum()),
            "status_counts": frame.status.value_counts().to_dict(), "frame": frame}


def do_bench_run(config: Path, out: Path, i: int | str, *flags: str) -> dict:
    result = out / f"loop{i}.json"
    wall = timed_process([sys.executable, str(Path(__file__).parent / "do_bench_loop.py"), str(config), str(result),
                          *flags], out / f"loop{i}.log")
    return {"wall_s": wall, **json.loads(result.read_text())}


def jit_cache_mib() -> float:
    """Size of CUDA's JIT cache on disk (~/.nv/ComputeCache, the driver's default location)."""
    files = (Path.home() / ".nv" / "ComputeCache").rglob("*")
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def part_b(out: Path) -> dict:
    """sdpa-bench and the do_bench loop, each as the command its user runs, in the order
    sdpa-bench, loop, loop, sdpa-bench: a drift (the card warming) falls on both alike. First
    what a machine pays once: one untimed call of every point (the first
    process to run the cuDNN points pays ~9 s more than later ones, whichever command it is:
    timer-check-v5), and one start of Ray and a worker (`sdpa-bench devices`: Ray's files)."""
    free, total = torch.cuda.mem_get_info()
    assert free > 0.95 * total - 2**30, f"(b) needs the whole GPU, but only {free / 2**30:.1f} GiB are free"
    config = out / "fa.yaml"
    config.write_text(yaml.safe_dump(fa_config()))
    cache_before = jit_cache_mib()
    warm = do_bench_run(config, out, 0, "--once")
    warm_pass = {"wall_s": warm["wall_s"], "points_s": warm["points_s"],
                 "jit_cache_mib": [cache_before, jit_cache_mib()],
                 "devices_s": timed_process([sys.executable, "-m", "orchestrator", "devices"], out / "devices.log")}
    runs = {"sdpa_bench": [], "do_bench": []}
    for i, (name, run) in enumerate([("sdpa_bench", sdpa_bench_run), ("do_bench", do_bench_run),
                                     ("do_bench", do_bench_run), ("sdpa_bench", sdpa_bench_run)], start=1):
        runs[name].append(run(config, out, i))
    sdpa, loops = runs["sdpa_bench"], runs["do_bench"]
    ratio = sum(r["wall_s"] for r in sdpa) / sum(r["wall_s"] for r in loops)
    # the stricter basis of earlier sessions: against the loop's points alone, its imports and context left out
    points_ratio = sum(r["wall_s"] for r in sdpa) / sum(r["points_s"] for r in loops)
    frame = sdpa[0].pop("frame")
    sdpa[1].pop("frame")
    refs = {p["point"]: p["median_ms"] for p in loops[0]["points"]}
    mine = {f"{r.implementation} {r.sweep} {spec_of(r).label()}": r.median_ms for r in frame.itertuples()
            if r.status == "ok"}
    diffs = [100 * (ms / refs[point] - 1) for point, ms in mine.items() if refs.get(point)]
    return {"warm_pass": warm_pass, "sdpa_bench": sdpa, "do_bench": loops, "ratio": ratio, "points_ratio": points_ratio,
            "max_abs_vs_do_bench_pct": max(map(abs, diffs)), "median_vs_do_bench_pct": float(np.median(diffs)),
            "within_3pct": f"{sum(abs(d) <= 3 for d in diffs)}/{len(diffs)}"}


def main(out: Path, parts: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    a = part_a(out) if "a" in parts else []
    b = part_b(out) if "b" in parts else {}
    (out / "timer_check.json").write_text(json.dumps({"a": a, "b": b}, indent=1, default=str))
    print("\n(a) tutorial shape: sdpa-bench vs triton do_bench (median ms)")
    print(f"{'backend':<10}{'run1':>9}{'run2':>9}{'db':>9}{'db 1s':>9}{'vs db%':>8}{'vs 1s%':>8}{'rep %':>7}"
          f"{'reps':>5}{'ci %':>6}  MHz, W, C (run 1 | run 2)  throttle")
    for r in a:
        state = " | ".join(f"{r[f'run{i}_sm_clock_mhz']:.0f} {r[f'run{i}_power_mean_w']:.0f} "
                           f"{r[f'run{i}_gpu_temp_max_c']}" for i in (1, 2))
        print(f"{r['backend']:<10}{r['run1_ms']:>9.3f}{r['run2_ms']:>9.3f}{r['do_bench_ms']:>9.3f}"
              f"{r['do_bench_sustained_ms']:>9.3f}"
              f"{r['vs_do_bench_pct']:>8.2f}{r['vs_sustained_pct']:>8.2f}{r['repeat_pct']:>7.2f}{r['n_reps']:>5}"
              f"{100 * r['ci_rel']:>6.2f}  {state}  {r['throttle']}")
    print("\n(a') the same callables in this process: median ms @ mean SM MHz, mean W")
    for r in a:
        print(f"{r['backend']:<10}" + "  ".join(f"{m['phase']} {m['median_ms']:.3f} @ {m.get('sm_mhz_mean', 0):.0f} "
                                                 f"MHz {m.get('power_w_mean', 0):.0f} W" for m in r["in_process"]))
    if not b:
        return
    w = b["warm_pass"]
    print(f"\n(b) first, one untimed call per point: {w['wall_s']:.1f} s ({w['points_s']:.1f} s in the points), CUDA "
          f"JIT cache {w['jit_cache_mib'][0]:.0f} -> {w['jit_cache_mib'][1]:.0f} MiB; `devices` {w['devices_s']:.1f} s")
    walls = {name: " ".join(f"{r['wall_s']:.1f}" for r in b[name]) for name in ("sdpa_bench", "do_bench")}
    print(f"(b) FA-style sweep, each command from launch to exit (s): sdpa-bench {walls['sdpa_bench']}, "
          f"do_bench loop {walls['do_bench']}: ratio {b['ratio']:.2f}; against the loop's points alone "
          f"{b['points_ratio']:.2f}")
    for r in b["sdpa_bench"]:
        print(f"    sdpa-bench: {r['points']} points {r['status_counts']}, {r['converged']}/{r['ok']} ok points "
              "converged, "
              f"{r['reps']} reps; Ray {r['startup_s']['ray']} s, workers {r['startup_s']['workers']} s, "
              f"jobs {r['jobs_s']:.1f} s, rest {r['wall_s'] - sum(r['startup_s'].values()) - r['jobs_s']:.1f} s")
    for r in b["do_bench"]:
        print(f"    do_bench loop: start-up {r['startup_s']:.1f} s, points {r['points_s']:.1f} s, "
              f"out of memory on {sum(p['median_ms'] is None for p in r['points'])}")
    print(f"    run 1 vs loop 1 per point: median {b['median_vs_do_bench_pct']:+.2f}%, {b['within_3pct']} within 3%, "
          f"largest |diff| {b['max_abs_vs_do_bench_pct']:.1f}%")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "ab")
