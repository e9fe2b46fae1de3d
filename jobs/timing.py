"""The one timing helper every job uses: warm up, then time reps until the median is known to 1%.

On a GPU each rep is bracketed by CUDA events and preceded by an L2 flush that is *not* inside
the events; reps are synchronised in batches so the host never stalls the stream between reps.
With `cuda_graph`, the callable is captured once into a CUDA graph and each rep replays it: one
launch instead of one per kernel, for short kernels whose host launch overhead would otherwise
leave the GPU idle inside the events; the flush stays outside them.
On the CPU each rep is bracketed by `time.perf_counter`. The stop rule: at least `min_reps` reps
adding up to `min_timed_ms`, whose distribution-free 95% confidence interval of the median (order
statistics) has a half-width <= `target_rel_ci` of the median; or `max_reps`; or the per-point
`budget_s` runs out. The reason is returned.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

from base.settings import TimingConfig
from jobs.spec import Unsupported


@dataclass(frozen=True)
class Samples:
    times_ms: tuple[float, ...]
    stop_reason: str  # converged | max_reps | budget
    timer: str  # cuda_events | cuda_graph | perf_counter


@dataclass(frozen=True)
class Warmed:
    """Calls of the callable its caller already made (e.g. a probe), and the seconds the device
    was busy running them (not waiting on the host): they count toward the warmup."""
    calls: int = 0
    seconds: float = 0.0


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
    enough = len(times) >= cfg.min_reps and sum(times) >= cfg.min_timed_ms
    if enough and summarize(times).ci_rel <= cfg.target_rel_ci:
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


def warmup(fn: Callable[[], object], device: torch.device, cfg: TimingConfig, prior: Warmed) -> None:
    t0, reps = time.perf_counter() - prior.seconds, prior.calls
    while reps < cfg.warmup_reps or (time.perf_counter() - t0) * 1e3 < cfg.warmup_ms:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        reps += 1


def capture_graph(fn: Callable[[], object], device: torch.device) -> Callable[[], None]:
    """`fn` captured as one CUDA graph; returns its replay. A warm call on a side stream first, as
    torch.cuda.graph's docs ask (lazy per-stream state must not be created during capture)."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            fn()
    except RuntimeError as err:  # e.g. an op that synchronises: this call cannot be graphed
        raise Unsupported(f"CUDA graph capture failed: {first_error(err)}") from None
    graph.replay()  # the first replay uploads the graph: not a rep
    torch.cuda.synchronize(device)
    return graph.replay


def first_error(err: BaseException) -> str:
    """The first line of the error that started it: a failed capture raises again on its way out
    of torch.cuda.graph, and that second error ("a previous error during capture") hides the cause."""
    while err.__context__ is not None:
        err = err.__context__
    return f"{type(err).__name__}: {str(err).splitlines()[0]}"


def timed_batches(fn: Callable[[], object], device: torch.device, cfg: TimingConfig,
                  ) -> tuple[Callable[[int], list[float]], str]:
    """A function timing n reps of the (warm) call, and the name of the timer it uses."""
    if device.type != "cuda":
        return (lambda n: cpu_batch(fn, n)), "perf_counter"
    flush = make_l2_flush(device) if cfg.flush_l2 else None
    if cfg.cuda_graph:
        replay = capture_graph(fn, device)
        return (lambda n: cuda_batch(replay, n, flush)), "cuda_graph"
    return (lambda n: cuda_batch(fn, n, flush)), "cuda_events"


def time_callable(fn: Callable[[], object], device: torch.device, cfg: TimingConfig,
                  after_batch: Callable[[], None] = lambda: None, prior: Warmed = Warmed()) -> Samples:
    """Warm `fn` up, then time it adaptively; returns every timed rep in milliseconds.
    `after_batch` runs after warmup and after each synchronised batch (e.g. to read clocks)."""
    warmup(fn, device, cfg, prior)
    batch, timer = timed_batches(fn, device, cfg)
    after_batch()
    times: list[float] = []
    deadline = time.perf_counter() + cfg.budget_s
    n = cfg.min_reps
    while True:
        times += batch(n)
        after_batch()
        reason = stop_reason(times, cfg, deadline)
        if reason:
            return Samples(tuple(times), reason, timer)
        n = next_batch_size(times, cfg, deadline)


def next_batch_size(times: list[float], cfg: TimingConfig, deadline: float) -> int:
    """Grow by half the reps so far, or at once to min_timed_ms, but never past max_reps or (by
    the median) the deadline."""
    median = max(statistics.median(times), 1e-6)
    to_min_time = math.ceil((cfg.min_timed_ms - sum(times)) / median)
    affordable = int(max(deadline - time.perf_counter(), 0.0) * 1e3 / median) + 1
    grow = max(len(times) // 2, cfg.min_reps, to_min_time)
    return max(1, min(grow, cfg.max_reps - len(times), affordable))
