"""When a GPU's power state has settled, when it is back at its maximum clock, and how long its
power cap's clock cycle is (no torch, no NVML).

The adaptive protocol (jobs/timing.py) reads these from `GpuMonitor` readings. What they encode,
from a 2 ms NVML trace of an H200 at its 700 W limit (docs/results/2026-11-26-h200-adaptive-timing/):
- a kernel that does not trip the power cap runs at one clock from its first calls: settled as soon
  as a warmup has run long enough to see the cap if it were coming (it comes within 0.15 s), unless
  it draws within 3% of the limit: then the cap may still come when the one-second mean gets there;
- a kernel that trips it runs at a plateau clock until NVML's one-second mean power reaches the
  limit (~0.9 s after idle); then the cap cuts the clock and cycles it, dips about once a second.
  Settled once that mean is at the cap: from a cold start a window from then on reads within 1%
  of a window starting a second later; a card that the previous point left at the cap is settled
  at once, which is how the state carries across consecutive points;
- under the cap a timed window must span at least one measured cycle (dip to dip), or its median
  reads one phase of it;
- once the calls stop, the cap lets go within ~0.4 s (the clock is back at 1980 MHz) and the
  one-second mean decays to the idle ~125 W over about a second. A burst that starts with that mean
  at 188 W (1 s of idle) read its first calls within 1% of one after 3 s of idle; with 570 W (0.3 s)
  the cap tripped at once and the burst read 5% slow: `cooled` waits for the mean to fall to
  COOL_POWER of the limit, with the clock back at its maximum.
"""
from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Reading:
    """One NVML read of the GPU (jobs/gpu_state.py's monitor makes them every 20 ms)."""
    t: float  # time.perf_counter() of the read
    sm_mhz: int
    power_w: float  # NVML's board power: on Ampere and later its mean over the last second
    instant_w: float | None  # the board power now (NVML refreshes it every 100 ms); None where not kept
    capped: bool  # the power cap held the clock at some time since the previous reading
    temp_c: int
    bits: int  # throttle reasons active at the read


MIN_WARMUP_S = 0.2  # long enough to see the cap trip: 0.09-0.15 s after a heavy kernel starts
AT_CAP = 0.9  # the one-second mean power, as a fraction of the limit, from which the cap's cycle runs
# ...or the mean a point found at its start: a card that comes in this hot was at the cap a moment
# ago (the previous point ended < ~0.35 s before) and is still in its cycle; after a 0.3 s gap
# the first second read within 0.1% of a window a second later, after 3 s idle 2.8% fast
CAME_IN_HOT = 0.7
# a kernel drawing this close to the limit without tripping the cap yet trips it once the one-second
# mean catches up (flash fwd_bwd at 0.98 of 700 W: at 0.9 s): it is not settled before that mean is
NEAR_CAP = 0.97
CUT_DEPTH = 0.05  # a cut: a clock minimum this far below the highest clock around it (noise: <= 4.5%)
CUT_HALF_WIDTH_S = 0.45  # ...within this many seconds either side: a clock that wobbles faster (0.4 s) is not a cycle
ONSET_S = 0.15  # the clock's step down as the cap first trips is not a cut: cycles are read after it
COOL_POWER = 0.35  # the one-second mean, as a fraction of the limit, under which a burst may start
CLOCK_BINS_MHZ = 15  # the clock moves in 15 MHz steps: within one of the maximum counts as at it


def settled(readings: Sequence[Reading], since: float, limit_w: float) -> str | None:
    """`no_cap` or `at_cap` once the readings since `since` (the warmup's start) say the state has
    settled, else None (warm up on)."""
    if not readings:
        return None
    mean_at_cap = readings[-1].power_w >= AT_CAP * limit_w
    if any(r.capped for r in readings):
        return "at_cap" if mean_at_cap or readings[0].power_w >= CAME_IN_HOT * limit_w else None
    if readings[-1].t - since < MIN_WARMUP_S:
        return None
    near_cap = max(r.instant_w or 0.0 for r in readings) >= NEAR_CAP * limit_w
    return "no_cap" if mean_at_cap or not near_cap else None


def cuts(readings: Sequence[Reading]) -> list[float]:
    """Times of the cap's cuts: clock minima at least CUT_DEPTH below the highest clock within
    CUT_HALF_WIDTH_S either side, seen with that much time on both sides."""
    times = [r.t for r in readings]
    found: list[float] = []
    for r in readings:
        if r.t - times[0] < CUT_HALF_WIDTH_S or times[-1] - r.t < CUT_HALF_WIDTH_S:
            continue
        lo, hi = bisect.bisect_left(times, r.t - CUT_HALF_WIDTH_S), bisect.bisect_right(times, r.t + CUT_HALF_WIDTH_S)
        near = [x.sm_mhz for x in readings[lo:hi]]
        is_min = r.sm_mhz == min(near) and r.sm_mhz <= (1 - CUT_DEPTH) * max(near)
        if is_min and (not found or r.t - found[-1] > CUT_HALF_WIDTH_S):
            found.append(r.t)
    return found


def under_cap(readings: Sequence[Reading]) -> list[Reading]:
    """The readings from ONSET_S after the cap first held the clock; none if it never did."""
    first = next((r.t for r in readings if r.capped), None)
    return [] if first is None else [r for r in readings if r.t >= first + ONSET_S]


def cycle_s(readings: Sequence[Reading]) -> float | None:
    """The cap's cycle: the median time between consecutive cuts under the cap; None with fewer than two."""
    times = cuts(under_cap(readings))
    if len(times) < 2:
        return None
    return statistics.median(b - a for a, b in zip(times, times[1:]))


@dataclass
class CapCycle:
    """The longest power-cap cycle measured on this worker's GPU so far. The worker keeps one for its
    lifetime and hands it to every job: a point that follows one whose window measured the cycle
    need not measure it again. The longest, because a light kernel's clock can wobble faster (0.4 s)
    than a heavy one's cycle (1.0 s)."""
    longest_s: float | None = None

    def window_s(self, readings: Sequence[Reading]) -> float | None:
        """The cycle a window under the cap must span: the longest measured so far, these readings
        included; None while none has been measured."""
        measured = cycle_s(readings)
        if measured is not None:
            self.longest_s = max(measured, self.longest_s or 0.0)
        return self.longest_s


def cooled(reading: Reading, limit_w: float, max_mhz: int) -> bool:
    """Whether a burst may start now: the cap has let go of the clock (back at its maximum, or parked
    at an idle clock far below it) and the one-second mean power is down to COOL_POWER of the limit."""
    at_max = reading.sm_mhz >= max_mhz - CLOCK_BINS_MHZ or reading.sm_mhz <= max_mhz // 2
    return not reading.capped and at_max and reading.power_w <= COOL_POWER * limit_w
