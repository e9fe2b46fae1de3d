"""The one timing helper every job uses: warm up, then time reps until the median is known to 1%.

On a GPU each rep is bracketed by CUDA events and preceded by an L2 flush that is *not* inside
the events; reps are synchronised in batches so the host never stalls the stream between reps.
On the CPU each rep is bracketed by `time.perf_counter`. The stop rule: the distribution-free
95% confidence interval of the median (order statistics) has a half-width <= `target_rel_ci` of
the median, or `max_reps`, or the per-point `budget_s` runs out; the reason is returned.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass(frozen=True)
class TimingConfig:
    # `min` metadata: the lowest value the config loader accepts
    warmup_reps: int = field(default=3, metadata={"min": 0})
    # warm up for at least this long too: plans get built, and a GPU at its power limit settles
    # at its sustained clock (an H100 needs ~0.1-0.5 s; benchmarks/clock_check.py)
    warmup_ms: float = field(default=500.0, metadata={"min": 0})
    # 6: the fewest samples whose full range is a 95% CI of the median (1 - 2 * 0.5**6 = 0.97)
    min_reps: int = field(default=10, metadata={"min": 6})
    max_reps: int = field(default=5000, metadata={"min": 6})
    target_rel_ci: float = field(default=0.01, metadata={"min": 0})
    budget_s: float = field(default=10.0, metadata={"min": 0})  # timed reps of one point, warmup excluded
    flush_l2: bool = True


@dataclass(frozen=True)
class Samples:
    times_ms: tuple[float, ...]
    stop_reason: str  # converged | max_reps | budget


@dataclass(frozen=True)
class Stats:
    median_ms: float
    iqr_ms: float
    min_ms: float
    n_reps: int
    ci_rel: float  # 95% CI half-width of the median, relative to the median


def median_ci(times: list[float]) -> tuple[float, float]:
    """Distribution-free 95% CI of the median: the order statistics of (1-based) ranks
    floor(n/2 - 1.96*sqrt(n)/2) and ceil(1 + n/2 + 1.96*sqrt(n)/2), clipped to the sample."""
    x = sorted(times)
    n = len(x)
    half = 1.96 * math.sqrt(n) / 2
    lo = max(math.floor(n / 2 - half), 1)
    hi = min(math.ceil(1 + n / 2 + half), n)
    return x[lo - 1], x[hi - 1]


def summarize(times: list[float] | tuple[float, ...]) -> Stats:
    median = statistics.median(times)
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else (median,) * 3
    lo, hi = median_ci(list(times))
    ci_rel = (hi - lo) / 2 / median if median > 0 else math.inf
    return Stats(median, q3 - q1, min(times), len(times), ci_rel)


def stop_reason(times: list[float], cfg: TimingConfig, deadline: float) -> str | None:
    if len(times) >= cfg.min_reps and summarize(times).ci_rel <= cfg.target_rel_ci:
        return "converged"
    if len(times) >= cfg.max_reps:
        return "max_reps"
    if time.perf_counter() >= deadline:
        return "budget"
    return None


def make_l2_flush(device: torch.device) -> Callable[[], None]:
    """A call that evicts L2: writes a buffer twice the L2 size (at least 64 MiB)."""
    l2_bytes = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0)
    buf = torch.empty(max(2 * l2_bytes, 64 * 2**20) // 4, dtype=torch.int32, device=device)
    return buf.zero_


def cuda_batch(fn: Callable[[], object], n: int, flush: Callable[[], None] | None) -> list[float]:
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
    for start, end in events:
        if flush is not None:
            flush()  # queued before `start`: the flush is not timed
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [start.elapsed_time(end) for start, end in events]


def cpu_batch(fn: Callable[[], object], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def warmup(fn: Callable[[], object], device: torch.device, cfg: TimingConfig) -> None:
    t0, reps = time.perf_counter(), 0
    while reps < cfg.warmup_reps or (time.perf_counter() - t0) * 1e3 < cfg.warmup_ms:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        reps += 1


def time_callable(fn: Callable[[], object], device: torch.device, cfg: TimingConfig,
                  after_batch: Callable[[], None] = lambda: None) -> Samples:
    """Warm `fn` up, then time it adaptively; returns every timed rep in milliseconds.
    `after_batch` runs after warmup and after each synchronised batch (e.g. to read clocks)."""
    if device.type == "cuda":
        flush = make_l2_flush(device) if cfg.flush_l2 else None
        batch = lambda n: cuda_batch(fn, n, flush)  # noqa: E731
    else:
        batch = lambda n: cpu_batch(fn, n)  # noqa: E731
    warmup(fn, device, cfg)
    after_batch()
    times: list[float] = []
    deadline = time.perf_counter() + cfg.budget_s
    n = cfg.min_reps
    while True:
        times += batch(n)
        after_batch()
        reason = stop_reason(times, cfg, deadline)
        if reason:
            return Samples(tuple(times), reason)
        n = next_batch_size(times, cfg, deadline)


def next_batch_size(times: list[float], cfg: TimingConfig, deadline: float) -> int:
    """Grow by half the reps so far, but never past max_reps or (by the median) the deadline."""
    left_s = max(deadline - time.perf_counter(), 0.0)
    affordable = int(left_s * 1e3 / max(statistics.median(times), 1e-6)) + 1
    return max(1, min(max(len(times) // 2, cfg.min_reps), cfg.max_reps - len(times), affordable))
