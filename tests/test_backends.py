"""The implementations beyond SDPA's own on the CPU, for real: FlexAttention compiled by inductor,
and clear `unsupported` rows where FlashAttention-4 (a GPU package) or SDPA's FA4 cannot run.
And the vocabulary: every name the config accepts maps to exactly one thing in the jobs."""
import pytest
import torch
from torch.nn.attention import SDPBackend

from base import vocab
from base.point import JobSpec
from base.settings import TimingConfig
from jobs import JOBS
from jobs.backends import SDPA_MEMBERS
from jobs.correctness import causal_correctness
from jobs.flops import MODE_FACTOR
from jobs.masks import MASKS
from jobs.sdpa_benchmark import DRAWS, DTYPES, sdpa_benchmark
from jobs.settings import process_settings
from jobs.spec import Unsupported

CPU = torch.device("cpu")
FAST = TimingConfig(warmup_reps=1, warmup_ms=0, min_reps=6, max_reps=10, target_rel_ci=0.5, min_timed_ms=0, budget_s=0.2)


def spec(backend, **kw) -> JobSpec:
    base = dict(job="sdpa_benchmark", sweep="t", backend=backend, dtype="float32", batch=1, heads=4, kv_heads=2,
                seq_len=128, kv_len=128, head_dim=64, causal=True, mode="fwd", inputs="randn", seed=0)
    return JobSpec(**{**base, **kw})


def test_flex_compiles_and_times_a_causal_gqa_point_on_the_cpu():
    metrics = sdpa_benchmark(spec("flex"), CPU, FAST).metrics
    assert metrics["compile_s"] > 0 and metrics["median_ms"] > 0 and metrics["dispatched"] == ""


def test_flex_is_causally_correct_on_the_cpu():
    metrics = causal_correctness(spec("flex", job="causal_correctness", seq_len=65, kv_len=65), CPU, FAST).metrics
    assert metrics["passed"], metrics["check"]


@pytest.mark.parametrize("point,reason", [
    ({"backend": "flex", "mode": "fwd_bwd"}, "flex: FlexAttention does not support backward on CPU"),
    ({"backend": "flex", "mask": "bool"}, "flex expresses masks as a mask_mod"),
    ({"backend": "fa4"}, "fa4 runs on NVIDIA GPUs only"),
    ({"backend": "flash", "flash_impl": "FA4"}, "flash_impl FA4 could not be activated"),
])
def test_what_cannot_run_here_is_unsupported_with_the_reason(point, reason):
    before = process_settings()
    with pytest.raises(Unsupported, match=reason):
        sdpa_benchmark(spec(**point), CPU, FAST)
    assert process_settings() == before  # nothing left active behind SDPA's flash backend


def test_the_vocabulary_maps_one_to_one_onto_the_jobs():
    assert tuple(SDPA_MEMBERS) == vocab.SDPA_BACKENDS
    members = {m for m in SDPBackend.__members__.values() if m.name != "ERROR"}
    assert members <= set(SDPA_MEMBERS.values())  # a backend a newer torch adds fails here until it is named
    assert tuple(DTYPES) == vocab.DTYPES and tuple(DRAWS) == vocab.DRAWS
    assert tuple(MODE_FACTOR) == vocab.MODES and MASKS == vocab.MASKS
    assert set(vocab.EXPECTED_STATUS.values()) <= set(vocab.STATUSES)
    assert {"sdpa_benchmark", "causal_correctness", "device_ceilings", "fault_injection"} == set(JOBS)
