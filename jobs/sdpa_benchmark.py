"""Job `sdpa_benchmark`: time one attention point (shape, dtype, implementation, mode) on one device.

The job builds the inputs, in the implementation's own layout so no transpose is timed, and the
callable; `jobs.timing.time_callable` times it. Before any timing: for implementations that
compile (flex's torch.compile, FA4's CuTe JIT) a first call, timed on its own as `compile_s`;
then one profiled probe call, which finds out whether the implementation can run the point at all
(its reason becomes an `unsupported` row), records the kernels and the peak memory, and whose
output is checked (jobs.output_check) before a single rep is timed.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

from base.point import JobSpec
from base.settings import TimingConfig
from base.vocab import DIRECT_BACKENDS
from jobs.backends import forced, layout, native_call
from jobs.flops import attention_flops
from jobs.gpu_state import GpuMonitor
from jobs.kernels import dispatched_backend, profile_kernels
from jobs.output_check import check_output, fingerprint
from jobs.spec import Outcome
from jobs.timing import Warmed, protocol_fields, summarize, time_callable

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
DRAWS = {"randn": torch.randn, "rand": torch.rand}  # `rand` as in PyTorch's SDPA tutorial


def shapes(spec: JobSpec, order: str) -> list[tuple[int, ...]]:
    """q, k, v shapes: (B, H, S, D) for `bhsd`, (B, S, H, D) for `bshd`."""
    q = (spec.batch, spec.heads, spec.seq_len, spec.head_dim)
    kv = (spec.batch, spec.kv_heads, spec.kv_len, spec.head_dim)
    if order == "bshd":
        q, kv = (q[0], q[2], q[1], q[3]), (kv[0], kv[2], kv[1], kv[3])
    return [q, kv, kv]


def make_inputs(spec: JobSpec, device: torch.device, grad: bool, order: str = "bhsd") -> tuple[torch.Tensor, ...]:
    """Fresh random q, k, v drawn in `order`; seeded so a point can be replayed."""
    gen = torch.Generator(device=device).manual_seed(spec.seed)
    draw, dtype = DRAWS[spec.inputs], DTYPES[spec.dtype]
    return tuple(draw(*s, generator=gen, device=device, dtype=dtype).requires_grad_(grad) for s in shapes(spec, order))


def build_call(spec: JobSpec, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> Callable[[], object]:
    """The callable to time for `spec.mode`; backward runs from a forward stored once (mode `bwd`).
    q, k, v are in the implementation's layout."""
    call = native_call(spec, q, k)
    attn = lambda: call(q, k, v)  # noqa: E731
    if spec.mode == "fwd":
        return attn
    dout = torch.randn_like(q)  # upstream gradient, shaped like the output
    # autograd.grad returns the grads instead of accumulating into .grad: no extra add per rep
    if spec.mode == "fwd_bwd":
        return lambda: torch.autograd.grad(attn(), (q, k, v), dout)
    out = attn()
    return lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)


def first_call_s(fn: Callable[[], object], device: torch.device) -> float:
    """Wall time of one call to completion: for a compiling implementation, mostly its compile."""
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def tensor_mib(*tensors: torch.Tensor) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def sdpa_benchmark(spec: JobSpec, device: torch.device, timing: TimingConfig) -> Outcome:
    order = layout(spec)
    q, k, v = make_inputs(spec, device, grad=spec.mode != "fwd", order=order)
    with forced(spec, device):
        fn = build_call(spec, q, k, v)
        compile_s = first_call_s(fn, device) if spec.backend in DIRECT_BACKENDS else None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        before = fingerprint((q, k, v))
        result, kernels, probe_busy_s = profile_kernels(fn, device)  # the probe: raises Unsupported before timing
        peak_mib = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        check_output(spec, result, (q, k, v), before, seq_dim=1 if order == "bshd" else 2)
        del result
        # the probe was a real call: it counts as the first warmup call (as do_bench's estimate calls
        # do), and the time the GPU was busy with it toward a fixed warmup_ms
        with GpuMonitor(device) as monitor:
            samples = time_callable(fn, device, timing, prior=Warmed(1, probe_busy_s), monitor=monitor)
    stats = summarize(samples.times_ms)
    flops = attention_flops(spec.batch, spec.heads, spec.seq_len, spec.kv_len, spec.head_dim,
                            spec.causal, spec.mode, lower_right=spec.mask == "lower_right")
    metrics = {
        "median_ms": stats.median_ms, "iqr_ms": stats.iqr_ms, "min_ms": stats.min_ms,
        "n_reps": stats.n_reps, "ci_rel": stats.ci_rel, "stop_reason": samples.stop_reason, "timer": samples.timer,
        "flops": flops, "tflops": flops / (stats.median_ms * 1e-3) / 1e12,
        "peak_mem_mib": peak_mib, "input_mem_mib": tensor_mib(q, k, v), "compile_s": compile_s,
        "kernels": "; ".join(kernels), **protocol_fields(samples), **monitor.summary(samples.window_t0),
        # which SDPA kernel family ran: what `default` chose, and a check that a forced backend held
        "dispatched": "" if spec.candidate or spec.backend in DIRECT_BACKENDS else dispatched_backend(kernels),
    }
    return Outcome(metrics=metrics, samples_ms=samples.times_ms)
