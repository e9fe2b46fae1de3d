"""sdpa_benchmark with each way of giving a causal mask, on the CPU: it runs, and its FLOP count
follows the mask's alignment (bottom-right attends different pairs when q_len != kv_len)."""
import pytest

from base.settings import TimingConfig
from jobs.flops import attention_flops
from jobs.sdpa_benchmark import sdpa_benchmark
from tests.conftest import context, dense

FAST = TimingConfig(warmup_reps=1, warmup_ms=0, min_reps=6, max_reps=6, target_rel_ci=0.5, min_timed_ms=0, budget_s=0.2)


@pytest.mark.parametrize("mask", ["is_causal", "bool", "additive", "lower_right"])
@pytest.mark.parametrize("backend", ["math", "flash", "default"])
def test_every_mask_form_runs_and_counts_its_own_pairs(mask, backend):
    p = dense(backend=backend, batch=1, heads=4, kv_heads=2, seq_len=40, kv_len=24, head_dim=16, causal=True,
              mode="fwd_bwd", mask=mask)
    metrics = sdpa_benchmark(p, context(FAST)).metrics
    assert metrics["n_reps"] == 6 and metrics["median_ms"] > 0
    expected = attention_flops(1, 4, 40, 24, 16, True, "fwd_bwd", lower_right=mask == "lower_right")
    assert metrics["flops"] == expected
    # 40 queries over 24 keys: top-left attends 300 + 16 * 24 = 684 pairs, bottom-right 300
    assert expected == 4 * 1 * 4 * 16 * 3.5 * (300 if mask == "lower_right" else 684)  # 4 B H D pairs, x3.5 fwd+bwd
