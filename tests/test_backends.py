"""The implementations beyond SDPA's own on the CPU, for real: FlexAttention compiled by inductor,
and clear `unsupported` rows where FlashAttention-4 (a GPU package) or SDPA's FA4 cannot run.
And the vocabulary: every name the config accepts maps to exactly one thing in the jobs."""
import pytest
from torch.nn.attention import SDPBackend

from base.vocab import STATUSES
from jobs.backends import SDPA_MEMBERS
from jobs.correctness import causal_correctness
from jobs.dense import MODES, SDPA_BACKENDS
from jobs.faults import EXPECTED_STATUS
from jobs.flops import MODE_FACTOR
from jobs.contract import Unsupported
from jobs.process_state import process_state
from jobs.sdpa_benchmark import sdpa_benchmark
from tests.conftest import context, dense


def point(backend, **kw):
    return dense(backend=backend, **{**dict(batch=1, heads=4, kv_heads=2, seq_len=128, head_dim=64, causal=True), **kw})


@pytest.mark.integration
def test_flex_compiles_and_times_a_causal_gqa_point_on_the_cpu():
    metrics = sdpa_benchmark(point("flex"), context()).metrics
    assert metrics["compile_s"] > 0 and metrics["median_ms"] > 0 and metrics["dispatched"] == ""


@pytest.mark.integration
def test_flex_is_causally_correct_on_the_cpu():
    metrics = causal_correctness(point("flex", seq_len=65), context()).metrics
    assert metrics["passed"], metrics["check"]


@pytest.mark.parametrize("fields,reason", [
    ({"backend": "flex", "mode": "fwd_bwd"}, "flex: FlexAttention does not support backward on CPU"),
    ({"backend": "flex", "mask": "bool"}, "flex expresses masks as a mask_mod"),
    ({"backend": "fa4"}, "fa4 runs on NVIDIA GPUs only"),
    ({"backend": "flash", "flash_impl": "FA4"}, "flash_impl FA4 could not be activated"),
])
def test_what_cannot_run_here_is_unsupported_with_the_reason(fields, reason):
    before = process_state()
    with pytest.raises(Unsupported, match=reason):
        sdpa_benchmark(point(**fields), context())
    assert process_state() == before  # nothing left active behind SDPA's flash backend


def test_the_vocabulary_maps_one_to_one_onto_the_jobs():
    assert tuple(SDPA_MEMBERS) == SDPA_BACKENDS
    members = {m for m in SDPBackend.__members__.values() if m.name != "ERROR"}
    assert members <= set(SDPA_MEMBERS.values())  # a backend a newer torch adds fails here until it is named
    assert tuple(MODE_FACTOR) == MODES
    assert set(EXPECTED_STATUS.values()) <= set(STATUSES)
