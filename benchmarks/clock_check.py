"""Why do short timings disagree with do_bench on fast cuDNN kernels? (issue 3; needs a GPU)

Samples the GPU's SM clock, power and throttle reasons through NVML every 2 ms while timing the
same points several ways: sdpa-bench's timer with a short and a long warmup, do_bench with its
default and a long repetition, each hot (right after other work) and cold (after 3 s idle).
Also times the per-point overheads outside the timed reps (profiled probe, gc, inputs).

    python3 benchmarks/clock_check.py OUT_DIR
"""
from __future__ import annotations

import gc
import json
import sys
import threading
import time
from pathlib import Path

import pynvml
import torch
from triton.testing import do_bench

from jobs.backends import backend_context
from jobs.kernels import profile_kernels
from jobs.sdpa_benchmark import build_call, make_inputs
from jobs.spec import JobSpec
from jobs.timing import TimingConfig, summarize, time_callable

POINTS = {
    "tutorial_cudnn": dict(batch=32, heads=32, seq_len=2048, head_dim=224, dtype="float16", inputs="rand"),
    "fa_s8192_d64_cudnn": dict(batch=2, heads=32, seq_len=8192, head_dim=64, dtype="bfloat16", inputs="randn"),
    "fa_s4096_d128_cudnn": dict(batch=4, heads=16, seq_len=4096, head_dim=128, dtype="bfloat16", inputs="randn"),
}
SHORT = TimingConfig(warmup_reps=1, warmup_ms=25, min_reps=6, min_timed_ms=0)
LONG = TimingConfig(warmup_reps=1, warmup_ms=1000, min_reps=6, min_timed_ms=0)


class Sampler(threading.Thread):
    """(time, SM MHz, watts, throttle-reason bits) every 2 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        self.samples, self.stop = [], False

    def run(self):
        while not self.stop:
            h = self.handle
            self.samples.append((time.perf_counter(), pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
                                 pynvml.nvmlDeviceGetPowerUsage(h) / 1e3,
                                 pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(h)))
            time.sleep(0.002)

    def window(self, t0, t1):
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        if not s:
            return {}
        bits = 0
        for x in s:
            bits |= x[3]
        return {"sm_mhz_mean": sum(x[1] for x in s) / len(s), "sm_mhz_min": min(x[1] for x in s),
                "power_w_mean": sum(x[2] for x in s) / len(s), "throttle_bits": hex(bits), "n": len(s)}


def phase(sampler, name, run):
    t0 = time.perf_counter()
    median = run()
    t1 = time.perf_counter()
    return {"phase": name, "median_ms": median, "wall_s": t1 - t0, **sampler.window(t0, t1)}


def ours(fn, cfg):
    return summarize(time_callable(fn, torch.device("cuda:0"), cfg).times_ms).median_ms


def main(out: Path):
    pynvml.nvmlInit()
    sampler = Sampler()
    sampler.start()
    results = []
    for name, shape in POINTS.items():
        spec = JobSpec(job="sdpa_benchmark", sweep="x", backend="cudnn", kv_heads=shape["heads"], kv_len=shape["seq_len"],
                       causal=False, mode="fwd", seed=0, **shape)
        q, k, v = make_inputs(spec, torch.device("cuda:0"), grad=False)
        with backend_context("cudnn"):
            fn = build_call(spec, q, k, v)
            fn()
            runs = [("ours_short_hot", lambda: ours(fn, SHORT)), ("do_bench_hot", lambda: do_bench(fn, return_mode="median")),
                    ("ours_long_warmup", lambda: ours(fn, LONG)),
                    ("do_bench_rep1000", lambda: do_bench(fn, warmup=500, rep=1000, return_mode="median"))]
            for label, run in runs:
                results.append({"point": name, **phase(sampler, label, run)})
            for label, run in [("ours_short_cold", lambda: ours(fn, SHORT)), ("do_bench_cold", lambda: do_bench(fn, return_mode="median"))]:
                time.sleep(3)
                results.append({"point": name, **phase(sampler, label, run)})
            t = time.perf_counter(); profile_kernels(fn, torch.device("cuda:0")); prof_s = time.perf_counter() - t
        t = time.perf_counter(); gc.collect(); gc_s = time.perf_counter() - t
        results.append({"point": name, "phase": "overheads", "profiled_probe_s": prof_s, "gc_collect_s": gc_s})
        del q, k, v, fn
        torch.cuda.empty_cache()
    sampler.stop = True
    (out / "clock_check.json").write_text(json.dumps(results, indent=1))
    print(f"{'point':<22}{'phase':<18}{'median ms':>10}{'wall s':>8}{'SM MHz':>8}{'min MHz':>8}{'W':>6}  throttle")
    for r in results:
        if r["phase"] == "overheads":
            print(f"{r['point']:<22}overheads: profiled probe {r['profiled_probe_s'] * 1e3:.0f} ms, gc.collect {r['gc_collect_s'] * 1e3:.0f} ms")
            continue
        print(f"{r['point']:<22}{r['phase']:<18}{r['median_ms']:>10.3f}{r['wall_s']:>8.2f}{r.get('sm_mhz_mean', 0):>8.0f}"
              f"{r.get('sm_mhz_min', 0):>8}{r.get('power_w_mean', 0):>6.0f}  {r.get('throttle_bits')}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
