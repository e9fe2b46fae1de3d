"""Job `sdpa_benchmark`: time one dense attention point (shape, dtype, implementation, mode) on one device.

The job builds the inputs, in the implementation's own layout so no transpose is timed, and the
callable; jobs/measure.py compiles, probes and times it, the probe's output checked by
jobs/output_check.py before a single rep is timed.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from base.schema import ReportHints
from jobs.backends import forced, layout, native_call
from jobs.contract import Job, JobContext, Outcome
from jobs.dense import DIRECT_BACKENDS, DenseParams, make_inputs
from jobs.flops import attention_flops
from jobs.gpu_state import GpuStateMetrics
from jobs.kernels import dispatched_backend
from jobs.measure import measure
from jobs.output_check import check_output
from jobs.rep_check import RepCheckMetrics
from jobs.timing import TimingMetrics, timing_metrics


class Metrics(TimingMetrics, GpuStateMetrics, RepCheckMetrics, total=False):
    flops: float  # FlashAttention's count (jobs/flops.py)
    tflops: float  # flops / median_ms: sustained
    peak_mem_mib: float  # torch.cuda.max_memory_allocated over the probe call, inputs included
    input_mem_mib: float  # q, k and v
    kernels: str  # the device kernels the probe launched, in order
    dispatched: str  # the SDPA kernel family those mean: what `default` chose, and whether a forced backend held
    compile_s: float  # flex's torch.compile or FA4's JIT: the first call, never in the reps


def build_call(p: DenseParams, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> Callable[[], object]:
    """The callable to time for `p.mode`; backward runs from a forward stored once (mode `bwd`).
    q, k, v are in the implementation's layout."""
    call = native_call(p, q, k)
    attn = lambda: call(q, k, v)  # noqa: E731
    if p.mode == "fwd":
        return attn
    dout = torch.randn_like(q)  # upstream gradient, shaped like the output
    # autograd.grad returns the grads instead of accumulating into .grad: no extra add per rep
    if p.mode == "fwd_bwd":
        return lambda: torch.autograd.grad(attn(), (q, k, v), dout)
    out = attn()
    return lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)


@contextmanager
def prepared(p: DenseParams, seed: int, device: torch.device) -> Iterator[tuple[Callable[[], object], tuple]]:
    """The callable this job times at `p` and its inputs q, k, v, built as the job builds them (in
    the implementation's layout, inside its forced backend); scripts that time it another way
    (benchmarks/do_bench_loop.py) use the same."""
    q, k, v = make_inputs(p, seed, device, grad=p.mode != "fwd", order=layout(p))
    with forced(p, device):
        yield build_call(p, q, k, v), (q, k, v)


def tensor_mib(*tensors: torch.Tensor) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def sdpa_benchmark(p: DenseParams, ctx: JobContext) -> Outcome:
    with prepared(p, ctx.seed, ctx.device) as (fn, inputs):
        seq_dim = 1 if layout(p) == "bshd" else 2
        m = measure(fn, ctx, inputs, lambda out: check_output(p, out, inputs, seq_dim),
                    compiles=p.backend in DIRECT_BACKENDS)
    timed = timing_metrics(m.samples)
    flops = attention_flops(p.batch, p.heads, p.seq_len, p.kv_len, p.head_dim, p.causal, p.mode,
                            lower_right=p.mask == "lower_right")
    metrics: Metrics = {
        **timed, "flops": flops, "tflops": flops / (timed["median_ms"] * 1e-3) / 1e12,
        "peak_mem_mib": m.peak_mem_mib, "input_mem_mib": tensor_mib(*inputs), "compile_s": m.compile_s,
        "kernels": "; ".join(m.kernels), **m.gpu, **m.rep_checks,
        # which SDPA kernel family ran: what `default` chose, and a check that a forced backend held
        "dispatched": "" if p.candidate or p.backend in DIRECT_BACKENDS else dispatched_backend(m.kernels),
    }
    return Outcome(metrics=metrics, samples_ms=m.samples.times_ms)


REPORT = ReportHints("speed", x="seq_len", speed="tflops")
JOB = Job(sdpa_benchmark, DenseParams, Metrics, REPORT)
