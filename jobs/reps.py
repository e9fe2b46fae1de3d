"""Timing reps: the timers (CUDA events around each rep, a GPU wait and an L2 flush before each; a
CUDA graph's replay; perf_counter on the CPU) and the statistics of what they measured.
jobs/timing.py decides how many reps to time and when; this is how one batch of them is timed.

Why the wait: a rep's start event runs as soon as the GPU reaches it. If the host takes longer to
queue a call than the GPU takes to run the flush before it (a Python-heavy wrapper at a short
point), the GPU sits idle between the start event and the call's first kernel, and the event
time is the host's launch, not the kernels: on an H200, decode at batch 1 read 18-80% slower than
do_bench, whose larger flush left the host more time. So each rep is preceded by a GPU sleep
as long as the host takes to queue one call (`BeforeRep`), measured once per point and recorded
(`launch_us`): the GPU then reaches each start event after the call is queued.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from base.settings import TimingConfig
from jobs.contract import Unsupported

After = Optional[Callable[[object], None]]  # sees each timed rep's result (jobs/rep_check.py)


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


def make_l2_flush(device: torch.device) -> Callable[[], None]:
    """A call that evicts L2: writes a buffer twice the L2 size (at least 64 MiB)."""
    l2_bytes = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0)
    buf = torch.empty(max(2 * l2_bytes, 64 * 2**20) // 4, dtype=torch.int32, device=device)
    return buf.zero_


LAUNCH_PROBES = 3  # calls whose host time (queueing only, the GPU's queue drained first) gives launch_us
WAIT_MARGIN = 1.5  # the host's other work in a rep (the flush's launch, two events, the rep check)
FALLBACK_MHZ = 3000  # the sleep counts SM cycles; where the device does not say its clock, one above any GPU's


@dataclass(frozen=True)
class BeforeRep:
    """What is queued before each rep, outside its events: a GPU sleep as long as the host takes to
    queue one call, then the L2 flush (None: `timing.flush_l2: false`)."""
    launch_us: float  # host microseconds to queue one call of the timed callable
    wait_cycles: int
    flush: Callable[[], None] | None

    def __call__(self) -> None:
        torch.cuda._sleep(self.wait_cycles)
        if self.flush is not None:
            self.flush()


def before_rep(fn: Callable[[], object], device: torch.device, flush_l2: bool) -> BeforeRep:
    launch_us = host_launch_us(fn, device)
    mhz = getattr(torch.cuda.get_device_properties(device), "clock_rate", 0) / 1e3 or FALLBACK_MHZ
    return BeforeRep(launch_us, int(WAIT_MARGIN * launch_us * mhz), make_l2_flush(device) if flush_l2 else None)


def host_launch_us(fn: Callable[[], object], device: torch.device) -> float:
    """Host microseconds to queue one call (the median of LAUNCH_PROBES; untimed on the GPU)."""
    torch.cuda.synchronize(device)
    seconds = []
    for _ in range(LAUNCH_PROBES):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    torch.cuda.synchronize(device)
    return 1e6 * statistics.median(seconds)


def cuda_batch(fn: Callable[[], object], n: int, before: BeforeRep, after: After = None) -> list[float]:
    """n reps, each between two CUDA events, `before` queued before each; `after` sees each rep's
    result once its end event is queued: outside the timed region, while the GPU runs."""
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
    for start, end in events:
        before()  # queued before `start`: the wait and the flush are not timed
        start.record()
        result = fn()
        end.record()
        if after is not None:
            after(result)
        del result
    torch.cuda.synchronize()
    return [start.elapsed_time(end) for start, end in events]


def cpu_batch(fn: Callable[[], object], n: int, after: After = None) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if after is not None:
            after(result)
    return times


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


def timed_batches(fn: Callable[[], object], device: torch.device, cfg: TimingConfig, before: BeforeRep | None,
                  after: After = None) -> tuple[Callable[[int], list[float]], str]:
    """A function timing n reps of the (warm) call, and the name of the timer it uses. A graph's
    replay returns nothing: `after` sees no result there. `before` (None on the CPU): the call's;
    a replay queues faster than the call, so the call's wait is long enough for it too."""
    if device.type != "cuda":
        return (lambda n: cpu_batch(fn, n, after)), "perf_counter"
    if cfg.cuda_graph:
        replay = capture_graph(fn, device)
        return (lambda n: cuda_batch(replay, n, before)), "cuda_graph"
    return (lambda n: cuda_batch(fn, n, before, after)), "cuda_events"
