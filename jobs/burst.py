"""The burst figure of a GPU point, beside the sustained one.

Vendors' and libraries' tables time a few iterations after the card has idled, while its SM clock
is still at its maximum (docs/methods.md says which harness does what); jobs/timing.py's sustained
figure is the card held at its power cap, as a training or serving job holds it. Before a point's
warmup, `time_burst` waits until NVML says the card is back at its maximum clock with its power well
below the limit (jobs/settle.py: `cooled`), then times `burst_reps` reps: their median is
`burst_ms`. The GPU idles while a point is prepared (inputs, compiles, the probe): that time counts
toward the wait, and the burst reps count toward the warmup.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, TypedDict

from jobs.gpu_state import GpuMonitor


class BurstMetrics(TypedDict, total=False):
    burst_ms: float  # median of the burst reps (CUDA events around each, L2 flushed before each)
    burst_clock_mhz: float  # mean SM clock NVML read during them
    burst_gap: float  # sustained median / burst median: how much slower the card is at its cap
    burst_wait: str  # cool: the card was back at its maximum clock; wait_max: burst_wait_max_ms passed first
    burst_wait_ms: float  # time this point waited for that, on top of its own preparation


@dataclass(frozen=True)
class Burst:
    times_ms: tuple[float, ...]
    clock_mhz: float | None
    wait: str
    wait_ms: float


def time_burst(batch: Callable[[int], list[float]], reps: int, monitor: GpuMonitor, wait_max_s: float) -> Burst:
    """`reps` reps of `batch` (n -> n times in ms) once the card is back at its maximum clock."""
    cool, waited_s = monitor.wait_cooled(wait_max_s)
    t0 = time.perf_counter()
    times = batch(reps)
    monitor.reading_after(time.perf_counter())  # a burst can be shorter than one read period: the next one
    seen = monitor.between(t0)
    clock = statistics.fmean(r.sm_mhz for r in seen) if seen else None
    return Burst(tuple(times), clock, "cool" if cool else "wait_max", waited_s * 1e3)


def burst_metrics(burst: Burst | None, sustained_ms: float) -> BurstMetrics:
    """A row's burst fields; none where no burst ran (a CPU, no NVML, or `timing.burst: false`)."""
    if burst is None:
        return {}
    median = statistics.median(burst.times_ms)
    return {"burst_ms": median, "burst_clock_mhz": burst.clock_mhz, "burst_gap": sustained_ms / median,
            "burst_wait": burst.wait, "burst_wait_ms": burst.wait_ms}
