"""The adaptive protocol's decisions, and the burst's wait for the maximum clock, on a real GPU's
power states: NVML traces recorded on an H200 at its 700 W limit (tests/data/h200_power_trace.json,
tests/data/h200_cooling_trace.json), replayed in real time to the real timing loop and monitor."""
import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch

from base.settings import TimingConfig
from base.vocab import SETTLES
from jobs.burst import time_burst
from jobs.gpu_state import GpuMonitor
from jobs.settle import CapCycle, Reading, cooled, cycle_s, settled
from jobs.reps import cpu_batch
from jobs.timing import time_callable

TRACE = json.loads((Path(__file__).parent / "data" / "h200_power_trace.json").read_text())
COOLING = json.loads((Path(__file__).parent / "data" / "h200_cooling_trace.json").read_text())
LIMIT_W = TRACE["power_limit_w"]


def readings(case: str, t0: float = 0.0) -> list[Reading]:
    return [Reading(t0 + t, mhz, watts, now_w, capped, 50, 0) for t, mhz, watts, now_w, capped in TRACE["cases"][case]]


def settles_at(case: str) -> tuple[str, float]:
    trace = readings(case)
    for i in range(len(trace)):
        state = settled(trace[: i + 1], 0.0, LIMIT_W)
        if state:
            return state, trace[i].t
    raise AssertionError(f"{case} never settled")


def test_a_kernel_below_the_cap_is_settled_after_the_short_warmup():
    for case in ("tutorial_math_from_idle", "s1024_causal_efficient_from_idle"):  # 0.91-0.95 of the limit
        state, t = settles_at(case)
        assert state == "no_cap" and t < 0.3, case


def test_a_kernel_drawing_near_the_limit_waits_for_the_cap_it_trips_later():
    # flash fwd_bwd draws 0.98 of 700 W: the cap holds the clock from 0.9 s, when the 1 s mean gets there
    state, t = settles_at("s4096_fwd_bwd_flash_from_idle")
    assert state == "at_cap" and 0.8 < t < 1.1


def test_a_capped_kernel_from_idle_is_settled_once_the_mean_power_reaches_the_cap():
    # the cap holds the clock from 0.1 s, its first cut comes as NVML's 1 s mean reaches 700 W (~0.9 s)
    state, t = settles_at("tutorial_cudnn_from_idle")
    assert state == "at_cap" and 0.8 < t < 1.1


def test_a_card_left_at_the_cap_by_the_previous_point_is_settled_at_once():
    state, t = settles_at("tutorial_cudnn_after_a_hot_point")
    assert state == "at_cap" and t < 0.3


def test_the_caps_cycle_is_measured_from_dip_to_dip():
    assert cycle_s(readings("tutorial_cudnn_from_idle")) == pytest.approx(1.0, abs=0.1)
    # a light kernel's clock also wobbles every ~0.4 s, a few % deep: that is not the cap's cycle
    assert cycle_s(readings("s1024_causal_cudnn_from_idle")) == pytest.approx(1.0, abs=0.1)
    assert cycle_s(readings("tutorial_math_from_idle")) is None  # never capped: no cycle
    assert cycle_s(readings("tutorial_cudnn_after_a_hot_point")) is None  # 2 s at the cap without a dip


def test_a_measured_cycle_carries_to_later_points_of_the_worker_and_never_shrinks():
    cycle = CapCycle()
    assert cycle.window_s(readings("tutorial_cudnn_after_a_hot_point")) is None
    measured = cycle.window_s(readings("tutorial_cudnn_from_idle"))
    assert cycle.window_s(readings("tutorial_cudnn_after_a_hot_point")) == measured
    shorter = [Reading(r.t * 0.5, r.sm_mhz, r.power_w, r.instant_w, r.capped, 50, 0)
               for r in readings("tutorial_cudnn_from_idle")]
    assert cycle.window_s(shorter) == measured
    assert CapCycle().window_s(readings("tutorial_math_from_idle")) is None  # another worker knows nothing yet


class ReplayedCard(GpuMonitor):
    """The real monitor, its NVML reads replaced by a recorded trace played from `start()` on in real
    time (`offset_s`: the trace's time 0 comes that long after start)."""

    def __init__(self, trace: list[Reading], limit_w: float = LIMIT_W, max_mhz: int = 1980, offset_s: float = 0.0):
        super().__init__(torch.device("cpu"))
        self.trace, self.limit_w, self.max_mhz, self.offset_s, self.t0 = trace, limit_w, max_mhz, offset_s, None

    @property
    def usable(self) -> bool:
        return True

    def start(self) -> None:
        self.t0 = time.perf_counter() + self.offset_s

    def stop(self) -> None:
        pass

    def between(self, t0: float, t1: float = float("inf")) -> list[Reading]:
        now = time.perf_counter()
        return [dataclasses.replace(r, t=self.t0 + r.t) for r in self.trace if t0 <= self.t0 + r.t <= min(t1, now)]


def replayed(case: str, cycle: CapCycle | None = None, **timing):
    card = ReplayedCard(readings(case))
    cfg = TimingConfig(target_rel_ci=0.05, **timing)
    card.start()
    return time_callable(lambda: time.sleep(0.005), torch.device("cpu"), cfg, monitor=card, cap_cycle=cycle)


def test_adaptive_timing_of_a_capped_point_waits_for_the_cap_and_spans_its_cycle():
    samples = replayed("tutorial_cudnn_from_idle")
    assert (samples.protocol, samples.settle, samples.cap_seen) == ("adaptive", "at_cap", True)
    assert samples.settle in SETTLES
    assert 800 < samples.warmup_ms < 1200
    assert samples.cap_cycle_ms == pytest.approx(1000, abs=100)
    assert samples.window_ms >= samples.cap_cycle_ms


def test_cap_cycles_sets_how_many_measured_cycles_a_capped_window_spans():
    samples = replayed("tutorial_cudnn_after_a_hot_point", CapCycle(0.5), cap_cycles=2)
    assert samples.cap_cycle_ms == 500 and samples.window_ms >= 1000


def test_adaptive_timing_of_a_point_below_the_cap_stops_by_the_ci_rule_alone():
    samples = replayed("tutorial_math_from_idle")
    assert (samples.settle, samples.cap_seen, samples.cap_cycle_ms) == ("no_cap", False, None)
    assert samples.warmup_ms < 400 and samples.window_ms < 500
    assert samples.stop_reason == "converged"


def test_a_cap_without_a_measured_cycle_needs_cycle_max_ms():
    samples = replayed("tutorial_cudnn_after_a_hot_point", cycle_max_ms=700)
    assert samples.settle == "at_cap" and samples.cap_cycle_ms is None
    assert samples.window_ms >= 700


def test_the_fixed_protocol_runs_when_asked_or_without_nvml():
    cfg = TimingConfig(warmup_ms=150, min_timed_ms=30, min_reps=3)  # the replayed cap trips at 0.09 s
    card = ReplayedCard(readings("tutorial_cudnn_from_idle"))
    card.start()
    asked = time_callable(lambda: time.sleep(0.002), torch.device("cpu"), TimingConfig(protocol="fixed", **vars_of(cfg)),
                          monitor=card)
    assert (asked.protocol, asked.settle) == ("fixed", "by_time") and asked.warmup_ms >= 150
    assert asked.cap_seen and asked.cap_cycle_ms is None  # the cap is read and recorded, not acted on
    no_nvml = time_callable(lambda: time.sleep(0.002), torch.device("cpu"), cfg)
    assert (no_nvml.protocol, no_nvml.settle, no_nvml.cap_seen) == ("fixed", "no_nvml", None)
    assert sum(no_nvml.times_ms) >= 30


def vars_of(cfg: TimingConfig) -> dict:
    return {k: v for k, v in vars(cfg).items() if k != "protocol"}


def cooling(case: str) -> list[Reading]:
    return [Reading(t, mhz, watts, now_w, capped, 50, 0) for t, mhz, watts, now_w, capped in
            COOLING["cases"][case]["readings"]]


def first_cool(case: str) -> float | None:
    """When `cooled` first says a burst may start, in the trace's time (its calls start at 0)."""
    return next((r.t for r in cooling(case) if cooled(r, COOLING["power_limit_w"], COOLING["max_sm_mhz"])), None)


def test_a_card_is_cool_once_the_cap_has_let_go_and_the_mean_power_has_fallen():
    # after 3 s of idle it is cool from the first read; after a capped point the clock is back at
    # 1980 MHz within ~0.4 s but the one-second mean takes ~0.9 s to fall to 35% of 700 W
    assert first_cool("after_3s_idle") < -0.5
    assert -0.35 < first_cool("capped_point_then_1s_idle") < 0.0  # the calls began 1 s after the last one
    assert first_cool("capped_point_then_0.3s_idle") is None  # its calls began before the card was cool: 5% slow


def test_the_burst_waits_for_the_replayed_card_then_times_its_reps():
    card = ReplayedCard(cooling("capped_point_then_1s_idle"), offset_s=1.2)  # the last capped call: ~0.2 s ago
    card.start()
    burst = time_burst(lambda n: cpu_batch(lambda: time.sleep(0.002), n), 10, card, wait_max_s=3.0)
    assert burst.wait == "cool" and 800 < burst.wait_ms < 1200  # the mean fell under 245 W ~0.95 s after
    assert len(burst.times_ms) == 10 and burst.clock_mhz == 1980
    stuck = ReplayedCard(cooling("capped_point_then_1s_idle")[:10], offset_s=1.2)  # a card that stays hot
    stuck.start()
    assert time_burst(lambda n: cpu_batch(lambda: None, n), 3, stuck, wait_max_s=0.3).wait == "wait_max"
