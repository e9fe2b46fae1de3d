"""How long does a GPU at its power limit take to settle after an idle gap? (issue 3; needs a GPU)

    python3 benchmarks/settle_check.py

For the tutorial shape under cuDNN (the point whose first measurement of a run read 3-5% fast),
after IDLE_S seconds of idle: RUN_S seconds of back-to-back calls, each bracketed by CUDA events,
while NVML samples the SM clock and power every 2 ms. Prints one line per 100 ms window: mean
call time, SM clock and power, so the warmup a sustained number needs can be read off.
"""
from __future__ import annotations

import statistics
import time

import pynvml
import torch

from clock_check import Sampler
from jobs.backends import forced
from jobs.sdpa_benchmark import build_call, make_inputs
from jobs.spec import JobSpec

SPEC = JobSpec(job="sdpa_benchmark", sweep="x", backend="cudnn", batch=32, heads=32, kv_heads=32, seq_len=2048,
               kv_len=2048, head_dim=224, dtype="float16", causal=False, mode="fwd", seed=0, inputs="rand")
IDLE_S, RUN_S, WINDOW_S = (3.0, 1.0), 5.0, 0.1


def timed_calls(fn, seconds: float) -> list[tuple[float, float]]:
    """(host time at launch, call ms) for back-to-back calls over `seconds`, synced every 10 calls."""
    out, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        batch = []
        for _ in range(10):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t = time.perf_counter()
            start.record()
            fn()
            stop.record()
            batch.append((t, start, stop))
        torch.cuda.synchronize()
        out += [(t, start.elapsed_time(stop)) for t, start, stop in batch]
    return out


def print_windows(calls: list[tuple[float, float]], sampler: Sampler, t0: float) -> None:
    for i in range(int(RUN_S / WINDOW_S)):
        lo, hi = t0 + i * WINDOW_S, t0 + (i + 1) * WINDOW_S
        ms = [c for t, c in calls if lo <= t < hi]
        state = sampler.window(lo, hi)
        if ms and state:
            print(f"  {i * WINDOW_S:4.1f}-{(i + 1) * WINDOW_S:4.1f} s  {statistics.mean(ms):7.3f} ms  "
                  f"{state['sm_mhz_mean']:6.0f} MHz  {state['power_w_mean']:5.0f} W", flush=True)


def main() -> None:
    pynvml.nvmlInit()
    sampler = Sampler()
    sampler.start()
    q, k, v = make_inputs(SPEC, torch.device("cuda:0"), grad=False)
    with forced(SPEC, torch.device("cuda:0")):
        fn = build_call(SPEC, q, k, v)
        timed_calls(fn, 2.0)  # plans built, card warm
        for idle in IDLE_S:
            time.sleep(idle)
            t0 = time.perf_counter()
            calls = timed_calls(fn, RUN_S)
            print(f"after {idle} s idle: per {WINDOW_S} s window, mean call, SM clock, power", flush=True)
            print_windows(calls, sampler, t0)
    sampler.stop = True


if __name__ == "__main__":
    main()
