"""causal_correctness on the CPU: every case of the issue, the pass rule, and deliberately
wrong candidate kernels that must fail with a message naming the bug."""
import pytest
import torch

from base.schema import DeviceInfo
from base.settings import TimingConfig
from jobs.correctness import causal_correctness
from orchestrator.worker import run_job
from tests.conftest import context, dense, job_spec
from tests.nanogpt import CausalSelfAttention

TIMING = TimingConfig()


def check(seed: int = 0, candidate: str = "", **kw) -> dict:
    p = dense(candidates={kw.get("backend"): candidate} if candidate else {}, causal=kw.pop("causal", True), **kw)
    return dict(causal_correctness(p, context(TIMING, seed=seed)).metrics)


CASES = {  # the cases: odd lengths, q_len != kv_len both ways, head_dim 8..256 with 224, GQA, batch 1 and 16
    "square_odd": {}, "q_shorter": {"seq_len": 17, "kv_len": 45}, "q_longer": {"seq_len": 45, "kv_len": 17},
    "d8": {"head_dim": 8}, "d224": {"head_dim": 224, "seq_len": 19, "kv_len": 19},
    "d256": {"head_dim": 256, "seq_len": 9, "kv_len": 9}, "gqa": {"heads": 8, "kv_heads": 2},
    "batch1": {"batch": 1, "seq_len": 127, "kv_len": 127}, "batch16": {"batch": 16, "seq_len": 65, "kv_len": 65},
    "non_causal": {"causal": False},
}


@pytest.mark.parametrize("backend", ["math", "flash", "default"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("mask", ["is_causal", "bool", "additive", "lower_right"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_builtin_backends_pass_forward_in_every_case(backend, dtype, mask, case):
    m = check(backend=backend, dtype=dtype, mask=mask, **CASES[case])
    assert m["passed"], m["check"]
    assert m["check"] == "pass"
    assert m["max_abs_err"] <= 2 * m["math_max_abs_err"] + 1e-5
    assert m["err_ratio"] == pytest.approx(m["max_abs_err"] / m["math_max_abs_err"])


def test_the_three_causal_forms_agree_with_each_other():
    outs = {}
    for mask in ("is_causal", "bool", "additive"):
        m = check(mask=mask, seq_len=17, kv_len=45)
        outs[mask] = (m["max_abs_err"], m["passed"])
    assert len(set(outs.values())) == 1  # same inputs, same mask, bit-identical math output


def test_gradients_are_checked_against_the_reference():
    m = check(mode="fwd_bwd", backend="math")
    assert m["passed"] and m["grad_err_ratio"] is not None and m["grad_err_ratio"] < 2


def test_rows_with_no_key_are_reported_not_scored():
    # bottom right with 45 queries over 17 keys: the first 28 query rows see no key
    m = check(mask="lower_right", seq_len=45, kv_len=17)
    assert m["passed"] and m["empty_rows"] == "zeros"
    assert check(mask="is_causal", seq_len=45, kv_len=17)["empty_rows"] == ""  # top left: row i sees key 0..i


def test_inputs_are_seeded_and_recorded():
    assert check(seed=3) == check(seed=3)
    assert check(seed=3)["max_abs_err"] != check(seed=4)["max_abs_err"]


def candidate(name: str, **kw) -> dict:
    return check(backend=name, candidate=f"tests.candidates:{name}", **kw)


@pytest.mark.parametrize("name,shape,named", [
    ("no_scale", {}, "no 1/sqrt(d) scale"),
    ("wrong_corner", {"seq_len": 17, "kv_len": 45}, "the causal mask aligned to the wrong corner"),
    ("off_by_one", {}, "the causal mask off by one diagonal (one key too many)"),
    ("softmax_over_queries", {}, "softmax over the wrong axis (queries, not keys)"),
])
def test_wrong_candidates_fail_with_a_message_naming_the_bug(name, shape, named):
    m = candidate(name, **shape)
    assert m["passed"] is False
    assert m["check"].startswith("FAIL out: max abs err")
    assert f"the output matches {named}" in m["check"]
    assert m["err_ratio"] > 1e3


def test_a_right_candidate_passes():
    assert candidate("right", seq_len=17, kv_len=45, mode="fwd_bwd")["passed"]


def test_a_candidate_that_fails_to_import_or_raises_is_an_error_row():
    info = DeviceInfo("n", "h", "cpu", "cpu", "cpu", "", None, None, "", "", "", "", "")
    bad_import = job_spec(dense({"mine": "tests.no_such_module:attention"}, backend="mine", causal=True),
                          job="causal_correctness")
    row, _ = run_job("id", bad_import, info, context(TIMING), attempt=1)
    assert row.status == "error"
    assert row.error.startswith("CandidateError: candidate 'tests.no_such_module:attention' could not be imported")
    raises = job_spec(dense({"raises": "tests.candidates:raises"}, backend="raises", causal=True),
                      job="causal_correctness")
    row, _ = run_job("id", raises, info, context(TIMING), attempt=1)
    assert row.status == "error" and row.error.startswith("ValueError: this kernel is not finished")


@pytest.mark.parametrize("batch,T,C,nh", [(1, 1, 8, 1), (3, 17, 64, 4), (2, 33, 96, 12)])
def test_nanogpt_block_explicit_and_sdpa_paths_agree(batch, T, C, nh):
    torch.manual_seed(0)
    block = CausalSelfAttention(C, nh)
    x = torch.randn(batch, T, C)
    torch.testing.assert_close(block.sdpa(x), block.explicit(x), rtol=1e-5, atol=1e-5)
    q, k, v = block.heads(x)
    assert q.shape == (batch, nh, T, C // nh)  # batch kept, heads split as C // nh


def test_nanogpt_rows_do_not_see_the_future_or_other_sequences():
    torch.manual_seed(0)
    block = CausalSelfAttention(32, 4)
    x = torch.randn(2, 9, 32)
    y = block.sdpa(x)
    changed = x.clone()
    changed[0, 5:] += 1.0  # the future of sequence 0
    y2 = block.sdpa(changed)
    torch.testing.assert_close(y2[0, :5], y[0, :5])  # the past of sequence 0 is untouched
    torch.testing.assert_close(y2[1], y[1])  # and the other sequence too
    assert not torch.allclose(y2[0, 5:], y[0, 5:])
