"""On a real GPU: which kernels each implementation launches, the CUDA-graph timer, a real OOM,
FlashAttention-4 and FlexAttention rows, SDPA's flash implementation swapped and restored, and
every implementation's causal correctness with gradients."""
import importlib.util

import pytest
import torch

from base.settings import TimingConfig
from base.vocab import BURST_WAITS, SETTLES
from jobs.contract import Unsupported
from jobs.correctness import causal_correctness
from jobs.process_state import flash_impl, process_state
from jobs.sdpa_benchmark import sdpa_benchmark
from tests.conftest import context, dense

QUICK = TimingConfig(protocol="fixed", warmup_reps=2, warmup_ms=20, min_reps=10, max_reps=200, target_rel_ci=0.05,
                     min_timed_ms=0, budget_s=1)
HAS_FA4 = importlib.util.find_spec("flash_attn") is not None


def spec(backend="flash", **kw):
    base = dict(backend=backend, dtype="bfloat16", batch=2, heads=8, kv_heads=8, seq_len=1024, head_dim=128,
                causal=True)
    return dense(**{**base, **kw})


def on_gpu(timing: TimingConfig = QUICK):
    return context(timing, device="cuda:0")


@pytest.mark.parametrize("backend", ["flash", "efficient", "cudnn", "math"])
def test_a_forced_backend_runs_its_own_kernels(backend):
    metrics = sdpa_benchmark(spec(backend), on_gpu()).metrics
    assert metrics["dispatched"] == backend, metrics["kernels"]
    assert metrics["timer"] == "cuda_events" and metrics["sm_clock_mhz"] > 0 and metrics["power_mean_w"] > 0


def test_the_adaptive_protocol_reads_the_card_and_says_what_it_decided():
    metrics = sdpa_benchmark(spec("cudnn", batch=16, heads=16, kv_heads=16), on_gpu(TimingConfig(budget_s=3))).metrics
    assert metrics["protocol"] == "adaptive" and metrics["settle"] in SETTLES and metrics["cap_seen"] is not None
    assert metrics["warmup_ms"] > 0 and metrics["window_ms"] > 0 and metrics["sm_clock_mhz"] > 0
    spanned = metrics["cap_cycle_ms"] is None or metrics["window_ms"] >= metrics["cap_cycle_ms"]
    assert spanned or metrics["stop_reason"] in ("max_reps", "budget")


def test_the_burst_waits_for_the_clock_and_stands_beside_the_sustained_figure():
    metrics = sdpa_benchmark(spec("cudnn", batch=16, heads=16, kv_heads=16), on_gpu(TimingConfig(budget_s=3))).metrics
    assert metrics["burst_wait"] in BURST_WAITS and metrics["burst_wait_ms"] >= 0
    assert metrics["burst_ms"] > 0 and metrics["burst_clock_mhz"] > 0
    assert metrics["burst_gap"] == pytest.approx(metrics["median_ms"] / metrics["burst_ms"])
    off = sdpa_benchmark(spec("cudnn"), on_gpu(TimingConfig(budget_s=1, burst=False))).metrics
    assert "burst_ms" not in off


def test_cuda_graph_timer_replays_a_capture():
    cfg = TimingConfig(**{**QUICK.__dict__, "cuda_graph": True})
    metrics = sdpa_benchmark(spec("cudnn"), on_gpu(cfg)).metrics
    assert metrics["timer"] == "cuda_graph" and metrics["median_ms"] > 0


def test_a_real_oom_is_the_allocator_s_own_error():
    huge = spec("math", batch=64, heads=64, kv_heads=64, seq_len=16384, mode="fwd_bwd")  # 4 TB of scores
    with pytest.raises(torch.OutOfMemoryError):
        sdpa_benchmark(huge, on_gpu())
    torch.cuda.empty_cache()
    assert sdpa_benchmark(spec("flash"), on_gpu()).metrics["median_ms"] > 0  # and the process goes on


@pytest.mark.parametrize("mode", ["fwd", "fwd_bwd"])
def test_flex_compiles_once_per_point_outside_the_reps(mode):
    metrics = sdpa_benchmark(spec("flex", mode=mode, kv_heads=2), on_gpu()).metrics
    assert metrics["compile_s"] > 0 and metrics["median_ms"] > 0
    assert any("triton" in k.lower() or "flex" in k.lower() for k in metrics["kernels"].split("; ")), metrics["kernels"]


@pytest.mark.skipif(not HAS_FA4, reason="flash_attn (FlashAttention-4) is not installed")
def test_fa4_direct_in_its_own_layout():
    metrics = sdpa_benchmark(spec("fa4", kv_heads=2), on_gpu()).metrics
    assert metrics["compile_s"] > 0 and metrics["median_ms"] > 0 and metrics["dispatched"] == ""


@pytest.mark.skipif(not HAS_FA4, reason="flash_attn (FlashAttention-4) is not installed")
def test_sdpa_flash_with_fa4_behind_it_runs_or_names_the_pair_and_is_restored():
    """With a pair torch's wrapper can drive (flash-attn-4 <= 4.0.0b18 before torch 2.14) another kernel
    runs behind SDPA's flash backend; with any other an `unsupported` row names the installed pair."""
    before = process_state()
    try:
        metrics = sdpa_benchmark(spec("flash", flash_impl="FA4"), on_gpu()).metrics
    except Unsupported as err:
        assert "cannot drive this pair" in str(err) and "flash-attn-4 4.0.0b" in str(err), err
    else:
        builtin = sdpa_benchmark(spec("flash"), on_gpu()).metrics
        assert metrics["kernels"] != builtin["kernels"]  # another kernel ran behind the same backend
    assert flash_impl() == "builtin" and process_state() == before


IMPLEMENTATIONS = ["default", "math", "flash", "efficient", "cudnn", "flex"] + (["fa4"] if HAS_FA4 else [])


@pytest.mark.parametrize("backend", IMPLEMENTATIONS)
def test_every_implementation_is_causally_correct_with_gradients(backend):
    kv_heads = 8 if backend == "efficient" else 2  # efficient has no grouped-query kernel: unsupported there
    point = spec(backend, batch=2, heads=8, kv_heads=kv_heads, seq_len=257, head_dim=128, mode="fwd_bwd")
    metrics = causal_correctness(point, on_gpu()).metrics
    assert metrics["passed"], metrics["check"]


HAS_FLASHINFER = importlib.util.find_spec("flashinfer") is not None
DECODE_CANDIDATES = {name: f"tests.candidates:decode_{name}" for name in ("right", "ignores_page_table",
                                                                          "attends_past_length")}


def decode_point(backend, **kw):
    from jobs.decode import DecodeParams

    base = dict(model="llama-3.1-8b", dtype="bfloat16", batch=8, kv_len=2048, kv_lens="uniform", kv_min=256,
                page_size=16, backend=backend)
    return DecodeParams(**{**base, **kw}).resolved(DECODE_CANDIDATES)


DECODE_IMPLEMENTATIONS = [("default", None), ("cudnn", None), ("flex", None), ("flex", 16), ("right", 16)] + \
    ([("fa4", None), ("fa4", 16)] if HAS_FA4 else []) + ([("flashinfer", 16)] if HAS_FLASHINFER else [])


@pytest.mark.parametrize("q_tokens", [1, 4])
@pytest.mark.parametrize("backend,page_size", DECODE_IMPLEMENTATIONS)
def test_every_decode_implementation_passes_the_reference_on_the_gpu(backend, page_size, q_tokens):
    from jobs.decode import decode

    m = decode(decode_point(backend, page_size=page_size, q_tokens=q_tokens), on_gpu()).metrics
    assert m["err_ratio"] <= 2 and m["gbs"] > 0 and m["burst_ms"] > 0, m["kernel_path"]


@pytest.mark.parametrize("bug", ["ignores_page_table", "attends_past_length"])
def test_a_decode_kernel_that_misreads_the_pages_fails_on_the_gpu(bug):
    from jobs.decode import decode
    from jobs.output_check import BadOutput

    with pytest.raises(BadOutput, match="wrong output"):
        decode(decode_point(bug), on_gpu())


@pytest.mark.skipif(not HAS_FLASHINFER, reason="flashinfer is not installed")
def test_flashinfer_takes_an_fp8_kv_cache_with_and_without_tensor_cores():
    from jobs.decode import decode

    for tc in (False, True):
        m = decode(decode_point("flashinfer", kv_dtype="float8_e4m3fn", tensor_cores=tc), on_gpu()).metrics
        assert m["err_ratio"] <= 2 and m["gbs"] > 0


@pytest.mark.parametrize("backend", ["default", "flash", "cudnn", "varlen", "flex"] + (["fa4"] if HAS_FA4 else []) +
                         (["flashinfer"] if HAS_FLASHINFER else []))
def test_every_varlen_prefill_implementation_passes_the_reference_on_the_gpu(backend):
    from jobs.varlen_prefill import VarlenParams, varlen_prefill

    p = VarlenParams(model="llama-3.1-8b", dtype="bfloat16", batch=4, seq_len=1000, seq_lens="uniform",
                     backend=backend).resolved({})
    m = varlen_prefill(p, on_gpu()).metrics
    assert m["err_ratio"] <= 2 and m["tflops"] > 0, m["kernel_path"]


def test_the_read_kernel_is_checked_and_at_least_as_fast_as_a_copy():
    from jobs.ceilings import CeilingsParams, device_ceilings

    m = device_ceilings(CeilingsParams(), on_gpu(TimingConfig(budget_s=2))).metrics
    assert m["ceiling_read_gbs"] > 0.9 * m["ceiling_copy_gbs"]  # a read moves half a copy's bytes per element


def test_the_events_time_the_kernels_not_the_host_s_launch():
    """A call whose host work (300 us of Python) is far longer than its kernel (a ~5 us add):
    each rep's wait keeps the GPU from reaching the start event before the kernel is queued."""
    import time as clock

    from jobs.timing import time_callable

    x = torch.zeros(1 << 20, device="cuda")

    def host_heavy():
        t0 = clock.perf_counter()
        while clock.perf_counter() - t0 < 300e-6:
            pass
        return x.add_(1.0)

    samples = time_callable(host_heavy, torch.device("cuda:0"), TimingConfig(**{**QUICK.__dict__, "burst": False}))
    assert samples.launch_us >= 300
    assert 1e3 * max(samples.times_ms) < 0.5 * samples.launch_us, (samples.launch_us, samples.times_ms[:10])
