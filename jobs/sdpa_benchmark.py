"""Job `sdpa_benchmark`: time one SDPA point (shape, dtype, backend, mode) on one device.

The job builds the inputs and the callable; `jobs.timing.time_callable` times it. One untimed
probe call first: it finds out whether the backend can run the shape at all (torch's reason
becomes an `unsupported` row), and gives the point's peak memory before the timer allocates.
"""
from __future__ import annotations

from typing import Callable

import torch

from jobs.backends import attention_call, forced
from jobs.flops import attention_flops
from jobs.gpu_state import GpuMonitor
from jobs.kernels import dispatched_backend, profile_kernels
from jobs.spec import JobSpec, Outcome
from jobs.timing import TimingConfig, Warmed, summarize, time_callable

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
DRAWS = {"randn": torch.randn, "rand": torch.rand}  # `rand` as in PyTorch's SDPA tutorial


def make_inputs(spec: JobSpec, device: torch.device, grad: bool) -> tuple[torch.Tensor, ...]:
    """Fresh random q (B, H, Sq, D), k and v (B, Hkv, Skv, D); seeded so a point can be replayed."""
    gen = torch.Generator(device=device).manual_seed(spec.seed)
    draw, dtype = DRAWS[spec.inputs], DTYPES[spec.dtype]
    shapes = [(spec.batch, spec.heads, spec.seq_len, spec.head_dim)] + \
        [(spec.batch, spec.kv_heads, spec.kv_len, spec.head_dim)] * 2
    return tuple(draw(*s, generator=gen, device=device, dtype=dtype).requires_grad_(grad) for s in shapes)


def build_call(spec: JobSpec, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> Callable[[], object]:
    """The callable to time for `spec.mode`; backward runs from a forward stored once (mode `bwd`)."""
    call = attention_call(spec, q, k)
    attn = lambda: call(q, k, v)  # noqa: E731
    if spec.mode == "fwd":
        return attn
    dout = torch.randn_like(q)  # (B, H, Sq, D) upstream gradient
    # autograd.grad returns the grads instead of accumulating into .grad: no extra add per rep
    if spec.mode == "fwd_bwd":
        return lambda: torch.autograd.grad(attn(), (q, k, v), dout)
    out = attn()
    return lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)


def tensor_mib(*tensors: torch.Tensor) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def sdpa_benchmark(spec: JobSpec, device: torch.device, timing: TimingConfig) -> Outcome:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    q, k, v = make_inputs(spec, device, grad=spec.mode != "fwd")
    with forced(spec, device):
        fn = build_call(spec, q, k, v)
        kernels, probe_busy_s = profile_kernels(fn, device)  # the probe: raises Unsupported before any timing
        peak_mib = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        monitor = GpuMonitor(device)
        # the probe was a real call: it counts as the first warmup call (as do_bench's estimate calls
        # do), and the time the GPU was busy with it toward warmup_ms
        samples = time_callable(fn, device, timing, after_batch=monitor.sample, prior=Warmed(1, probe_busy_s))
    stats = summarize(samples.times_ms)
    flops = attention_flops(spec.batch, spec.heads, spec.seq_len, spec.kv_len, spec.head_dim,
                            spec.causal, spec.mode, lower_right=spec.mask == "lower_right")
    metrics = {
        "median_ms": stats.median_ms, "iqr_ms": stats.iqr_ms, "min_ms": stats.min_ms,
        "n_reps": stats.n_reps, "ci_rel": stats.ci_rel, "stop_reason": samples.stop_reason, "timer": samples.timer,
        "flops": flops, "tflops": flops / (stats.median_ms * 1e-3) / 1e12,
        "peak_mem_mib": peak_mib, "input_mem_mib": tensor_mib(q, k, v),
        "kernels": "; ".join(kernels), "dispatched": dispatched_backend(kernels), **monitor.summary(),
    }
    return Outcome(metrics=metrics, samples_ms=samples.times_ms)
