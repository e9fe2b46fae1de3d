"""The sdpa_benchmark job on the CPU: every mode, GQA, unequal lengths, unsupported backends."""
import pytest
import torch

from jobs.sdpa_benchmark import build_call, make_inputs, sdpa_benchmark
from base.point import JobSpec
from jobs.spec import Unsupported
from base.settings import TimingConfig
from base.schema import DeviceInfo, make_result
from orchestrator.worker import undeclared

CPU = torch.device("cpu")
FAST = TimingConfig(warmup_reps=1, warmup_ms=0, min_reps=3, max_reps=10, target_rel_ci=0.5, min_timed_ms=0, budget_s=0.2)


def spec(**kw) -> JobSpec:
    base = dict(job="sdpa_benchmark", sweep="t", backend="math", dtype="float32", batch=2, heads=4, kv_heads=4,
                seq_len=33, kv_len=33, head_dim=16, causal=False, mode="fwd", inputs="randn", seed=0)
    return JobSpec(**{**base, **kw})


@pytest.mark.parametrize("mode", ["fwd", "bwd", "fwd_bwd"])
@pytest.mark.parametrize("shape", [{}, {"kv_heads": 2}, {"kv_len": 50, "causal": True}, {"kv_heads": 1, "seq_len": 7}])
def test_every_mode_runs_and_reports_flat_metrics(mode, shape):
    outcome = sdpa_benchmark(spec(mode=mode, **shape), CPU, FAST)
    assert outcome.metrics["median_ms"] > 0
    assert outcome.metrics["n_reps"] == len(outcome.samples_ms) >= 3
    assert outcome.metrics["tflops"] > 0
    assert outcome.metrics["timer"] == "perf_counter"
    # the metrics fit the row type exactly: no unknown or misspelled field
    info = DeviceInfo("n", "h", "cpu", "cpu", "cpu", "", None, None, "", "", "", "", "")
    row = make_result("id", spec(mode=mode, **shape), info, "ok", metrics=outcome.metrics).row()
    assert all(not isinstance(v, (list, dict, tuple)) for v in row.values())
    assert undeclared("sdpa_benchmark", outcome.metrics) == ""  # only fields the job declares


def test_inputs_are_random_seeded_and_never_zero():
    q, k, v = make_inputs(spec(inputs="rand"), CPU, grad=False)
    q2, _, _ = make_inputs(spec(inputs="rand"), CPU, grad=False)
    assert torch.equal(q, q2)  # same seed, same inputs: a point can be replayed
    assert (q != 0).float().mean() > 0.99 and not torch.equal(q, k)
    q3, _, _ = make_inputs(spec(seed=1), CPU, grad=False)
    assert not torch.equal(q, q3)


def test_gqa_output_matches_repeated_kv_heads():
    s = spec(kv_heads=2)
    q, k, v = make_inputs(s, CPU, grad=False)
    out = build_call(s, q, k, v)()  # (B, 4, S, D) from k/v of (B, 2, S, D)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1))
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("backend", ["efficient", "cudnn"])
def test_a_backend_without_a_cpu_kernel_is_unsupported_with_torch_reason(backend):
    with pytest.raises(Unsupported, match=f"{backend} on cpu has no kernel for this input: No viable backend"):
        sdpa_benchmark(spec(backend=backend), CPU, FAST)


@pytest.mark.parametrize("metrics,complaint", [
    ({"median_ms": 1}, ""),  # an int fits a float column
    ({"median_ms": None, "passed": None}, "'passed', a field it does not declare"),
    ({"n_reps": True}, "n_reps=True, not a int"),
    ({"n_reps": 2**63}, "n_reps=9223372036854775808, not a int"),
    ({"median_ms": "fast"}, "median_ms='fast', not a float"),
])
def test_the_job_contract_checks_keys_and_types(metrics, complaint):
    said = undeclared("sdpa_benchmark", metrics)
    assert complaint in said and bool(said) == bool(complaint)
