"""The timing helper's statistics on known samples, and its stopping rule."""
import math
import time

import torch

from base.settings import TimingConfig
from jobs.reps import median_ci, summarize
from jobs.timing import Warmed, Window, next_batch_size, stop_reason, time_callable


def test_summary_of_known_samples():
    stats = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert stats.median_ms == 3.0
    assert stats.min_ms == 1.0
    assert stats.iqr_ms == 2.0  # inclusive quartiles of 1..5: 2 and 4
    assert stats.n_reps == 5


def test_median_ci_uses_order_statistics():
    # n = 100: floor(50 - 9.8) = 40th and ceil(1 + 50 + 9.8) = 61st smallest (1-based)
    lo, hi = median_ci(list(range(1, 101)))
    assert (lo, hi) == (40, 61)


def test_ci_is_narrow_for_tight_samples_and_wide_for_spread_ones():
    tight = summarize([10.0 + 0.001 * (i % 3) for i in range(50)])
    spread = summarize([float(i) for i in range(1, 51)])
    assert tight.ci_rel < 0.01 < spread.ci_rel


def test_stop_rule_needs_min_reps_even_when_converged():
    cfg = TimingConfig(min_reps=10, target_rel_ci=0.01, min_timed_ms=0)
    far = time.perf_counter() + 100
    assert stop_reason([1.0] * 9, Window(9.0, 0.0), cfg, far) is None
    assert stop_reason([1.0] * 10, Window(10.0, 0.0), cfg, far) == "converged"


def test_stop_rule_needs_the_window_even_when_converged():
    cfg = TimingConfig(min_reps=10, target_rel_ci=0.01)
    far = time.perf_counter() + 100
    assert stop_reason([1.0] * 19, Window(19.0, 20.0), cfg, far) is None  # tight, but too short a window
    assert stop_reason([1.0] * 20, Window(20.0, 20.0), cfg, far) == "converged"


def test_timing_reaches_min_timed_ms_in_one_more_batch():
    cfg = TimingConfig(warmup_reps=0, warmup_ms=0, min_reps=3, target_rel_ci=0.5, min_timed_ms=100, budget_s=10)
    far = time.perf_counter() + 100
    # 3 reps of 5 ms have 15 of the 100 ms: the next batch is the 17 reps that make up the rest
    # at once (growing by halves would take 6 batches)
    assert next_batch_size([5.0] * 3, Window(15.0, 100.0), 5.0, cfg, far) == 17
    samples = time_callable(lambda: time.sleep(0.005), torch.device("cpu"), cfg)
    assert samples.stop_reason == "converged"
    assert sum(samples.times_ms) >= 100


def test_stops_at_max_reps_when_it_cannot_converge():
    cfg = TimingConfig(warmup_reps=0, warmup_ms=0, min_reps=5, max_reps=23, target_rel_ci=0.0, budget_s=100)
    x = torch.randn(64, 64)
    samples = time_callable(lambda: x @ x, torch.device("cpu"), cfg)
    assert samples.stop_reason == "max_reps"
    assert len(samples.times_ms) == 23


def test_stops_when_the_budget_runs_out():
    cfg = TimingConfig(warmup_reps=0, warmup_ms=0, min_reps=3, max_reps=10**6, target_rel_ci=0.0, budget_s=0.05)
    samples = time_callable(lambda: time.sleep(0.01), torch.device("cpu"), cfg)
    assert samples.stop_reason == "budget"
    assert 3 <= len(samples.times_ms) < 1000


def test_warmup_is_not_timed():
    calls = []
    cfg = TimingConfig(warmup_reps=4, warmup_ms=0, min_reps=3, max_reps=3, target_rel_ci=0.0, budget_s=10)
    samples = time_callable(lambda: calls.append(1), torch.device("cpu"), cfg)
    assert len(calls) == 4 + 3
    assert len(samples.times_ms) == 3


def test_calls_the_caller_already_made_count_toward_the_warmup():
    calls = []
    cfg = TimingConfig(warmup_reps=4, warmup_ms=0, min_reps=3, max_reps=3, target_rel_ci=0.0, budget_s=10)
    time_callable(lambda: calls.append(1), torch.device("cpu"), cfg, prior=Warmed(calls=1))
    assert len(calls) == 3 + 3  # one of the four warmup calls was the caller's


def test_time_already_spent_counts_toward_warmup_ms():
    calls = []
    cfg = TimingConfig(warmup_reps=1, warmup_ms=500, min_reps=3, max_reps=3, target_rel_ci=0.0, budget_s=10)
    time_callable(lambda: calls.append(1), torch.device("cpu"), cfg, prior=Warmed(calls=1, seconds=0.6))
    assert len(calls) == 3  # no warmup call left: 600 ms of calls were already made


def test_rows_name_their_timer_and_cpu_ignores_cuda_graph():
    cfg = TimingConfig(warmup_reps=0, warmup_ms=0, min_reps=3, max_reps=3, target_rel_ci=0.0, cuda_graph=True)
    samples = time_callable(lambda: None, torch.device("cpu"), cfg)
    assert samples.timer == "perf_counter"
    assert len(samples.times_ms) == 3


def test_an_adaptive_window_once_met_grows_by_the_reps_its_ci_should_need():
    cfg = TimingConfig(min_reps=10, target_rel_ci=0.01, max_reps=10**6)
    far = time.perf_counter() + 100
    times = [1.0 + 0.03 * (i % 7) for i in range(200)]  # a CI of 1.38%: (1.38 / 1)^2 = 1.9x the reps
    ci = summarize(times).ci_rel
    assert 0.01 < ci < 0.015
    assert next_batch_size(times, Window(200.0, 100.0, by_ci=True), 1.0, cfg, far) == 200 // 2  # by halves: fewer
    nearly = [1.0 + 0.3 * i / 500 for i in range(500)]  # spread evenly: a CI just over 1%
    ci = summarize(nearly).ci_rel
    assert 0.01 < ci < 0.012
    by_ci = next_batch_size(nearly, Window(500.0, 100.0, by_ci=True), 1.0, cfg, far)
    assert by_ci == math.ceil(1.2 * 500 * ((ci / 0.01) ** 2 - 1)) < 500 // 2
    assert next_batch_size(times, Window(200.0, 100.0), 1.0, cfg, far) == 200 // 2  # fixed: by halves


def test_an_adaptive_window_short_of_its_need_grows_to_reach_it_not_by_halves():
    cfg = TimingConfig(min_reps=10, target_rel_ci=0.01, max_reps=10**6)
    far = time.perf_counter() + 100
    # 1000 reps spanned 900 of the 1000 ms a cap cycle needs, 0.9 ms a rep: 112 more, 5% over; not 500
    assert next_batch_size([1.0] * 1000, Window(900.0, 1000.0, by_ci=True), 1.0, cfg, far) == math.ceil(1.05 * 112)
    assert next_batch_size([1.0] * 1000, Window(900.0, 1000.0), 1.0, cfg, far) == 500  # fixed: by halves
