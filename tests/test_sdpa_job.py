"""The sdpa_benchmark job on the CPU: every mode, GQA, unequal lengths, unsupported backends."""
import pytest
import torch

from base.schema import DeviceInfo, make_result
from base.settings import TimingConfig
from jobs.contract import Outcome, Unsupported
from jobs.dense import make_inputs
from jobs.sdpa_benchmark import build_call, sdpa_benchmark
from orchestrator.worker import undeclared
from tests.conftest import context, dense, job_spec

CPU = torch.device("cpu")
FAST = TimingConfig(warmup_reps=1, warmup_ms=0, min_reps=3, max_reps=10, target_rel_ci=0.5, min_timed_ms=0, budget_s=0.2)


@pytest.mark.parametrize("mode", ["fwd", "bwd", "fwd_bwd"])
@pytest.mark.parametrize("shape", [{}, {"kv_heads": 2}, {"kv_len": 50, "causal": True}, {"kv_heads": 1, "seq_len": 7}])
def test_every_mode_runs_and_reports_flat_metrics(mode, shape):
    p = dense(mode=mode, **shape)
    outcome = sdpa_benchmark(p, context(FAST))
    assert outcome.metrics["median_ms"] > 0
    assert outcome.metrics["n_reps"] == len(outcome.samples_ms) >= 3
    assert outcome.metrics["tflops"] > 0
    assert outcome.metrics["timer"] == "perf_counter"
    assert "burst_ms" not in outcome.metrics  # a CPU has no clock to wait for: no burst
    # the metrics fit the row type exactly: no unknown or misspelled field
    info = DeviceInfo("n", "h", "cpu", "cpu", "cpu", "", None, None, "", "", "", "", "")
    row = make_result("id", job_spec(p), info, "ok", metrics=outcome.metrics).row()
    assert all(not isinstance(v, (list, dict, tuple)) for v in row.values())
    assert undeclared("sdpa_benchmark", outcome) == ""  # only fields the job declares


def test_inputs_are_random_seeded_and_never_zero():
    q, k, v = make_inputs(dense(inputs="rand"), 0, CPU, grad=False)
    q2, _, _ = make_inputs(dense(inputs="rand"), 0, CPU, grad=False)
    assert torch.equal(q, q2)  # same seed, same inputs: a point can be replayed
    assert (q != 0).float().mean() > 0.99 and not torch.equal(q, k)
    q3, _, _ = make_inputs(dense(), 1, CPU, grad=False)
    assert not torch.equal(q, q3)


def test_gqa_output_matches_repeated_kv_heads():
    p = dense(kv_heads=2)
    q, k, v = make_inputs(p, 0, CPU, grad=False)
    out = build_call(p, q, k, v)()  # (B, 4, S, D) from k/v of (B, 2, S, D)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1))
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("backend", ["efficient", "cudnn"])
def test_a_backend_without_a_cpu_kernel_is_unsupported_with_torch_reason(backend):
    with pytest.raises(Unsupported, match=f"{backend} on cpu has no kernel for this input: No viable backend"):
        sdpa_benchmark(dense(backend=backend), context(FAST))


@pytest.mark.parametrize("metrics,complaint", [
    ({"median_ms": 1}, ""),  # an int fits a float column
    ({"median_ms": None, "passed": None}, "'passed', a metric its Metrics does not declare"),
    ({"n_reps": True}, "n_reps=True, not a int"),
    ({"n_reps": 2**63}, "n_reps=9223372036854775808, not a int"),
    ({"median_ms": "fast"}, "median_ms='fast', not a float"),
])
def test_the_job_contract_checks_keys_and_types(metrics, complaint):
    said = undeclared("sdpa_benchmark", Outcome(metrics=metrics))
    assert complaint in said and bool(said) == bool(complaint)


@pytest.mark.parametrize("returned,complaint", [(None, "returned NoneType, not an Outcome"),
                                                ({"median_ms": 1.0}, "returned dict, not an Outcome")])
def test_a_job_that_returns_no_outcome_breaks_the_contract(returned, complaint):
    assert complaint in undeclared("sdpa_benchmark", returned)


def test_a_kernel_that_stops_working_after_the_probe_is_caught_in_the_timed_reps():
    from jobs.output_check import BadOutput
    from tests import candidates

    candidates.CALLS["right_then_none"] = 0
    p = dense({"lazy": "tests.candidates:right_then_none"}, backend="lazy")
    with pytest.raises(BadOutput, match="timed rep 1 returned NoneType, not what the checked probe call returned"):
        sdpa_benchmark(p, context(FAST))


def test_every_timed_rep_is_checked_and_what_that_costs_is_kept():
    metrics = sdpa_benchmark(dense(), context(FAST)).metrics
    assert metrics["rep_checks"] == "type, shape, dtype of every rep; values of the last"
    assert 0 < metrics["rep_check_us"] < 1e4


def test_an_fp8_tensor_has_a_fingerprint():
    from jobs.output_check import fingerprint

    t = torch.randn(16).to(torch.float8_e4m3fn)
    before = fingerprint((t,))
    t.view(torch.int8)[0] += 1
    assert fingerprint((t,)) != before
