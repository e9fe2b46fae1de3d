"""The one timing helper every job uses: warm up, then time reps until the median is known to 1%.

On a GPU each rep is bracketed by CUDA events and preceded by a GPU sleep as long as the host's
launch of one call and an L2 flush, neither inside the events (jobs/reps.py says why); reps are
synchronised in batches so the host never stalls the stream between reps.
With `cuda_graph`, the callable is captured once into a CUDA graph and each rep replays it: one
launch instead of one per kernel, for short kernels whose host launch overhead would otherwise
leave the GPU idle inside the events; the flush stays outside them.
On the CPU each rep is bracketed by `time.perf_counter`.

Two protocols (`timing.protocol`, docs/methods.md). `adaptive` (GPUs with NVML): warm up until
the power state has settled (jobs/settle.py: the cap never held the clock, or its one-second mean
power has reached the cap), then time reps whose window spans at least one measured cycle of the
cap if the cap held the clock at any time since the warmup began. `fixed` (and wherever NVML
cannot be read): warm up `warmup_ms`, and the timed reps must add up to `min_timed_ms`.
Then the stop rule: at least `min_reps` reps and that window, and the distribution-free 95%
confidence interval of the median (order statistics) has a half-width <= `target_rel_ci` of the
median; or `max_reps`; or the per-point `budget_s` runs out. The reason is returned.
Before either protocol, on a GPU with NVML and `timing.burst`, the burst reps (jobs/burst.py).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from base.settings import TimingConfig
from jobs.burst import Burst, BurstMetrics, burst_metrics, time_burst
from jobs.gpu_state import GpuMonitor
from jobs.reps import After, BeforeRep, before_rep, cuda_batch, summarize, timed_batches
from jobs.settle import CapCycle, settled

WARMUP_BATCH_S = 0.02  # adaptive warmup: calls between two looks at the monitor


class TimingMetrics(BurstMetrics, total=False):
    """What every timed row says of its reps (`timing_metrics`), and of how they were timed."""
    median_ms: float  # sustained: the card as back-to-back calls hold it (at its power cap, if it has one)
    iqr_ms: float
    min_ms: float
    n_reps: int
    ci_rel: float  # 95% CI half-width of the median, relative to it
    stop_reason: str  # converged | max_reps | budget
    timer: str  # cuda_events | cuda_graph | perf_counter
    protocol: str  # adaptive | fixed
    settle: str  # what the warmup ended on (base.vocab.SETTLES)
    warmup_ms: float  # wall time of the warmup (the probe and burst not included)
    window_ms: float  # wall time from the first timed rep to the last
    cap_seen: bool  # the power cap held the clock during warmup or reps (null: no NVML)
    cap_cycle_ms: float  # the cap's cycle the window had to span (null: no cap, or fixed)
    launch_us: float  # host microseconds to queue one call; each GPU rep waits this long x1.5 first (null: CPU)


@dataclass(frozen=True)
class Samples:
    times_ms: tuple[float, ...]
    stop_reason: str  # converged | max_reps | budget
    timer: str  # cuda_events | cuda_graph | perf_counter
    protocol: str = "fixed"  # the protocol that ran: adaptive | fixed
    settle: str = "by_time"  # what the warmup ended on (base/vocab.py SETTLES)
    warmup_ms: float = 0.0  # wall time of the warmup this point ran (the probe not included)
    window_ms: float = 0.0  # wall time from the first timed rep to the last
    window_t0: float = 0.0  # time.perf_counter() at the first timed rep
    cap_seen: bool | None = None  # the power cap held the clock during warmup or reps (None: no NVML)
    cap_cycle_ms: float | None = None  # the cap's cycle the window had to span (None: no cap, or fixed)
    burst: Burst | None = None  # the burst reps before the warmup (None: no NVML, or timing.burst off)
    launch_us: float | None = None  # host microseconds to queue one call (None: CPU)


def timing_metrics(samples: Samples) -> TimingMetrics:
    """The row's timing fields: the sustained statistics, what the protocol decided, the burst."""
    stats = summarize(samples.times_ms)
    return {"median_ms": stats.median_ms, "iqr_ms": stats.iqr_ms, "min_ms": stats.min_ms, "n_reps": stats.n_reps,
            "ci_rel": stats.ci_rel, "stop_reason": samples.stop_reason, "timer": samples.timer,
            "protocol": samples.protocol, "settle": samples.settle, "warmup_ms": samples.warmup_ms,
            "window_ms": samples.window_ms, "cap_seen": samples.cap_seen, "cap_cycle_ms": samples.cap_cycle_ms,
            "launch_us": samples.launch_us, **burst_metrics(samples.burst, stats.median_ms)}


@dataclass(frozen=True)
class Window:
    """What the timed reps must span before the stop rule may end them: `have_ms` of `need_ms`."""
    have_ms: float
    need_ms: float
    cycle_ms: float | None = None
    by_ci: bool = False  # once met, grow by the reps the CI should need (adaptive; fixed grows by halves)


@dataclass(frozen=True)
class Warmed:
    """Calls of the callable its caller already made (e.g. a probe), and the seconds the device
    was busy running them (not waiting on the host): they count toward the warmup."""
    calls: int = 0
    seconds: float = 0.0


def stop_reason(times: list[float], window: Window, cfg: TimingConfig, deadline: float) -> str | None:
    enough = len(times) >= cfg.min_reps and window.have_ms >= window.need_ms
    if enough and summarize(times).ci_rel <= cfg.target_rel_ci:
        return "converged"
    if len(times) >= cfg.max_reps:
        return "max_reps"
    if time.perf_counter() >= deadline:
        return "budget"
    return None


def warmup(fn: Callable[[], object], device: torch.device, cfg: TimingConfig, prior: Warmed) -> None:
    t0, reps = time.perf_counter() - prior.seconds, prior.calls
    while reps < cfg.warmup_reps or (time.perf_counter() - t0) * 1e3 < cfg.warmup_ms:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        reps += 1


def timed_reps(fn: Callable[[], object], device: torch.device, cfg: TimingConfig,
               window: Callable[[list[float], float], Window], before: BeforeRep | None, after: After = None,
               ) -> tuple[list[float], str, str, float, Window]:
    """Timed reps until the stop rule ends them: (times, stop reason, timer, the perf_counter at
    the first rep, the last window). `window(times, span_ms)` says what the reps have and need;
    `after` sees each rep's result, outside the timed region."""
    batch, timer = timed_batches(fn, device, cfg, before, after)
    times: list[float] = []
    t0 = time.perf_counter()
    deadline, n = t0 + cfg.budget_s, cfg.min_reps
    while True:
        times += batch(n)
        span_ms = (time.perf_counter() - t0) * 1e3
        now = window(times, span_ms)
        reason = stop_reason(times, now, cfg, deadline)
        if reason:
            return times, reason, timer, t0, now
        n = next_batch_size(times, now, span_ms / len(times), cfg, deadline)


def next_batch_size(times: list[float], window: Window, rep_ms: float, cfg: TimingConfig, deadline: float) -> int:
    """Grow by half the reps so far, or at once to the window's need (`window.by_ci`: adaptive_growth);
    never past max_reps or (by `rep_ms`, the wall time a rep takes) the deadline."""
    per_rep = max(window.have_ms / len(times), 1e-6)
    to_need = math.ceil((window.need_ms - window.have_ms) / per_rep)
    affordable = int(max(deadline - time.perf_counter(), 0.0) * 1e3 / max(rep_ms, 1e-6)) + 1
    grow = max(len(times) // 2, cfg.min_reps, to_need)
    if window.by_ci:
        grow = adaptive_growth(times, to_need, grow, cfg)
    return max(1, min(grow, cfg.max_reps - len(times), affordable))


def adaptive_growth(times: list[float], to_need: int, by_halves: int, cfg: TimingConfig) -> int:
    """Adaptive growth: short of the window, the reps that reach it (5% over: a first batch's reps
    take longer than later ones); once there, the reps the CI should need, if fewer than by halves."""
    if to_need > 0:
        return max(cfg.min_reps, math.ceil(1.05 * to_need))
    ci_rel = summarize(times).ci_rel
    if cfg.target_rel_ci <= 0 or not math.isfinite(ci_rel):
        return by_halves
    return min(by_halves, max(cfg.min_reps, math.ceil(1.2 * len(times) * ((ci_rel / cfg.target_rel_ci) ** 2 - 1))))


def time_callable(fn: Callable[[], object], device: torch.device, cfg: TimingConfig, prior: Warmed = Warmed(),
                  monitor: GpuMonitor | None = None, cap_cycle: CapCycle | None = None, after: After = None,
                  ) -> Samples:
    """The burst (a GPU with NVML, `cfg.burst`), then warm `fn` up and time it by `cfg.protocol`;
    returns every timed rep in milliseconds and what the protocol decided. `monitor` (started)
    reads the GPU; adaptive needs it usable. `cap_cycle`: what the worker knows of its GPU's cap.
    `after` sees the result of every timed rep, burst and sustained (jobs/rep_check.py)."""
    usable = monitor is not None and monitor.usable
    before = before_rep(fn, device, cfg.flush_l2) if device.type == "cuda" else None
    burst = None
    if usable and cfg.burst and before is not None:
        burst = time_burst(lambda n: cuda_batch(fn, n, before, after), cfg.burst_reps, monitor,
                           cfg.burst_wait_max_ms / 1e3)
        prior = Warmed(prior.calls + len(burst.times_ms), prior.seconds + sum(burst.times_ms) / 1e3)
    if cfg.protocol == "adaptive" and usable:
        samples = adaptive(fn, device, cfg, prior, monitor, cap_cycle or CapCycle(), before, after)
    else:
        settle = "by_time" if cfg.protocol == "fixed" else "no_nvml"
        samples = fixed(fn, device, cfg, prior, monitor, settle, before, after)
    return dataclasses.replace(samples, burst=burst, launch_us=before.launch_us if before else None)


def fixed(fn: Callable[[], object], device: torch.device, cfg: TimingConfig, prior: Warmed,
          monitor: GpuMonitor | None, settle: str, before: BeforeRep | None, after: After = None) -> Samples:
    t0 = time.perf_counter()
    warmup(fn, device, cfg, prior)
    warm_ms = (time.perf_counter() - t0) * 1e3
    window = lambda t, span: Window(sum(t), cfg.min_timed_ms)  # noqa: E731
    times, reason, timer, t1, _ = timed_reps(fn, device, cfg, window, before, after)
    cap = any(r.capped for r in monitor.between(t0)) if monitor is not None and monitor.usable else None
    return Samples(tuple(times), reason, timer, "fixed", settle, warm_ms, (time.perf_counter() - t1) * 1e3, t1, cap)


def adaptive(fn: Callable[[], object], device: torch.device, cfg: TimingConfig, prior: Warmed,
             monitor: GpuMonitor, cap_cycle: CapCycle, before: BeforeRep | None, after: After = None) -> Samples:
    t0 = time.perf_counter()
    settle = settle_warmup(fn, device, cfg, prior, monitor, t0)
    warm_ms = (time.perf_counter() - t0) * 1e3
    window = lambda t, span: cap_window(monitor, t0, span, cfg, cap_cycle)  # noqa: E731
    times, reason, timer, t1, last = timed_reps(fn, device, cfg, window, before, after)
    cap = any(r.capped for r in monitor.between(t0))
    return Samples(tuple(times), reason, timer, "adaptive", settle, warm_ms, (time.perf_counter() - t1) * 1e3, t1, cap,
                   last.cycle_ms)


def settle_warmup(fn: Callable[[], object], device: torch.device, cfg: TimingConfig, prior: Warmed,
                  monitor: GpuMonitor, t0: float) -> str:
    """Calls in batches of ~WARMUP_BATCH_S until the monitor's readings since `t0` say the state
    has settled (and warmup_reps calls were made, the caller's `prior` ones included), or
    settle_max_ms passes; returns what it found."""
    calls, n = prior.calls, 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        calls += n
        state = settled(monitor.between(t0), t0, monitor.limit_w) if calls >= cfg.warmup_reps else None
        if state or (time.perf_counter() - t0) * 1e3 >= cfg.settle_max_ms:
            return state or "warmup_max"
        n = max(1, int(WARMUP_BATCH_S * n / max(time.perf_counter() - t, 1e-6)))


def cap_window(monitor: GpuMonitor, t0: float, span_ms: float, cfg: TimingConfig, cap_cycle: CapCycle) -> Window:
    """Under a cap seen since `t0`, the window needs `cap_cycles` measured cycles (cycle_max_ms until
    one is measured on this GPU); without a cap, nothing: the 1% rule alone decides."""
    readings = monitor.between(t0)
    if not any(r.capped for r in readings):
        return Window(span_ms, 0.0, by_ci=True)
    cycle = cap_cycle.window_s(readings)
    need_ms = cfg.cap_cycles * cycle * 1e3 if cycle else cfg.cycle_max_ms
    return Window(span_ms, need_ms, cycle * 1e3 if cycle else None, by_ci=True)
