"""The timing helper's statistics on known samples, and its stopping rule."""
import time

import torch

from base.settings import TimingConfig
from jobs.timing import Warmed, median_ci, stop_reason, summarize, time_callable


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
    assert stop_reason([1.0] * 9, cfg, far) is None
    assert stop_reason([1.0] * 10, cfg, far) == "converged"


def test_stop_rule_needs_min_timed_ms_even_when_converged():
    cfg = TimingConfig(min_reps=10, target_rel_ci=0.01, min_timed_ms=20)
    far = time.perf_counter() + 100
    assert stop_reason([1.0] * 19, cfg, far) is None  # 19 ms of reps: tight, but too short a window
    assert stop_reason([1.0] * 20, cfg, far) == "converged"


def test_timing_reaches_min_timed_ms_in_one_more_batch():
    cfg = TimingConfig(warmup_reps=0, warmup_ms=0, min_reps=3, target_rel_ci=0.5, min_timed_ms=100, budget_s=10)
    batches = []
    samples = time_callable(lambda: time.sleep(0.005), torch.device("cpu"), cfg, after_batch=lambda: batches.append(1))
    assert samples.stop_reason == "converged"
    assert sum(samples.times_ms) >= 100
    # after warmup, the first 3 reps, then the reps that make up 100 ms by the first median (one
    # more if a loaded machine made the first reps slow); growing by halves would take 6 batches
    assert len(batches) <= 1 + 3


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
