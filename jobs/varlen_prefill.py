"""Job `varlen_prefill`: one causal prefill of a batch of sequences of different lengths, packed.

Each sequence's length is `seq_len` (`seq_lens: equal`) or uniform between seq_min and seq_len,
drawn with the run's seed; its queries attend causally to its own keys only. Every implementation
gets the batch in its own layout, built before any timing (jobs/varlen_backends.py), and its output
is checked against a float64 reference per sequence (jobs/reference.py) before a rep is timed.
FLOPs count the attended pairs of the real tokens only (a padded layout's extra work is its cost);
bytes: q, k, v read once and the output written, over the real tokens.
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import torch

from base.fields import bounded, choices, derived
from base.point import Params
from base.schema import ReportHints
from base.vocab import DTYPES
from jobs.contract import Job, JobContext, Outcome
from jobs.decode import Metrics as DecodeMetrics
from jobs.decode_backends import Prepared
from jobs.dense import DIM_MAX, torch_dtype
from jobs.kernels import dispatched_backend
from jobs.kv_cache import Cache, draw_lengths, make_cache, random, sequence
from jobs.measure import measure
from jobs.models import MODELS, heads_of
from jobs.output_check import BadOutput
from jobs.reference import require_pass, verdict
from jobs.timing import timing_metrics
from jobs.varlen_backends import IMPLEMENTATIONS, candidate


@dataclass(frozen=True, kw_only=True)
class VarlenParams(Params):
    batch: int = bounded(1, 2**20, size=True)  # sequences
    seq_len: int = bounded(1, DIM_MAX, size=True)  # every sequence's length (equal), or the longest (uniform)
    seq_lens: str = choices("equal", "uniform", default="equal")
    seq_min: int | None = bounded(1, DIM_MAX, default=None)  # uniform: the shortest (None: seq_len // 4)
    heads: int | None = bounded(1, DIM_MAX, default=None, size=True)
    kv_heads: int | None = bounded(1, DIM_MAX, default=None, size=True)
    head_dim: int | None = bounded(1, DIM_MAX, default=None, size=True)
    dtype: str = choices(*DTYPES)
    backend: str = choices(*IMPLEMENTATIONS, candidates=True)
    model: str | None = choices(*MODELS, default=None)
    tp: int = bounded(1, 1024, default=1)
    candidate: str = derived("")

    def resolved(self, candidates: Mapping[str, str]) -> VarlenParams:
        shape = heads_of(self.model, self.tp, self.heads, self.kv_heads, self.head_dim)
        seq_min = self.seq_min if self.seq_lens == "uniform" else None
        if seq_min is not None and seq_min > self.seq_len:
            raise ValueError(f"seq_min={seq_min} is more than seq_len={self.seq_len}; the uniform mix draws lengths "
                             "between them: make seq_min <= seq_len")
        return dataclasses.replace(self, **shape._asdict(), seq_min=seq_min, candidate=candidates.get(self.backend, ""))

    def shortest(self) -> int:
        """The shortest a sequence may be: seq_len (equal), seq_min, or a quarter of seq_len (uniform)."""
        return self.seq_len if self.seq_lens == "equal" else self.seq_min or max(self.seq_len // 4, 1)

    def lengths_label(self) -> str:
        return f"s{self.seq_len}" if self.seq_lens == "equal" else f"s{self.shortest()}-{self.seq_len}"

    def label(self) -> str:
        model = f" [{self.model} tp{self.tp}]" if self.model else ""
        shape = f"h{self.heads}/{self.kv_heads} d{self.head_dim}"
        return f"b{self.batch} {self.lengths_label()} {shape} {self.dtype} causal{model}"

    def family(self) -> str:
        lens = ("equal lengths" if self.seq_lens == "equal" else f"uniform lengths from {self.seq_min}" if self.seq_min
                else "uniform lengths from a quarter of seq_len")
        model = f" {self.model} tp{self.tp}" if self.model else ""
        shape = f"h{self.heads}/{self.kv_heads} d{self.head_dim}, b{self.batch}"
        return f"varlen prefill{model} {self.dtype} {shape}, {lens}"

    def implementation(self) -> str:
        return self.backend


class Metrics(DecodeMetrics, total=False):
    tokens: int  # real tokens in the batch


def batch_inputs(p: VarlenParams, seed: int, device: torch.device) -> tuple[torch.Tensor, Cache]:
    """q (tokens, H, D) packed, and k, v packed with the offsets, seeded."""
    gen = torch.Generator(device=device).manual_seed(seed)
    lengths = draw_lengths(p.batch, p.seq_len, p.seq_lens, p.shortest(), torch.Generator().manual_seed(seed))
    cache = make_cache(lengths, p.kv_heads, p.head_dim, torch_dtype(p.dtype), None, gen, device)
    return random((len(cache.k), p.heads, p.head_dim), torch_dtype(p.dtype), gen, device), cache


def prepare(p: VarlenParams, q: torch.Tensor, cache: Cache) -> Prepared:
    return (candidate if p.candidate else IMPLEMENTATIONS[p.backend])(p, q, cache)


@contextmanager
def prepared(p: VarlenParams, seed: int, device: torch.device) -> Iterator[tuple[Callable[[], object], tuple]]:
    """The callable this job times at `p` and what it reads (benchmarks/do_bench_loop.py)."""
    q, cache = batch_inputs(p, seed, device)
    impl = prepare(p, q, cache)
    with impl.context():
        yield impl.call, impl.inputs


def check(out: torch.Tensor, q: torch.Tensor, cache: Cache):
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(q.shape):
        raise BadOutput(f"the output is {type(out).__name__} {tuple(getattr(out, 'shape', ()))}; expected "
                        f"{tuple(q.shape)} (tokens, H, D)")
    start = [int(s) for s in cache.offsets]
    return verdict(((out[a:b].float(), q[a:b], *(t.float() for t in sequence(cache, i)))
                    for i, (a, b) in enumerate(zip(start, start[1:]))), q.dtype)


def varlen_prefill(p: VarlenParams, ctx: JobContext) -> Outcome:
    q, cache = batch_inputs(p, ctx.seed, ctx.device)
    t0 = time.perf_counter()
    impl = prepare(p, q, cache)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    setup_s, verdicts = time.perf_counter() - t0, []

    def check_probe(out):
        verdicts.append(check(impl.logical(out) if isinstance(out, torch.Tensor) else out, q, cache))
        require_pass(verdicts[-1])
    with impl.context():
        m = measure(impl.call, ctx, impl.inputs, check_probe, impl.compiles)
    timed = timing_metrics(m.samples)
    seconds = timed["median_ms"] * 1e-3
    lengths = cache.lengths.long()
    flops = 4.0 * p.heads * p.head_dim * float((lengths * (lengths + 1) // 2).sum())
    moved = float((2 * q.numel() + cache.k.numel() + cache.v.numel()) * q.element_size())
    metrics: Metrics = {
        **timed, **m.gpu, **m.rep_checks, "flops": flops, "tflops": flops / seconds / 1e12, "bytes_moved": moved,
        "gbs": moved / seconds / 1e9, "tokens": len(q), "tokens_per_s": len(q) / seconds,
        "cache_layout": "padded" if impl.path.startswith("SDPA") else "packed", "kernel_path": impl.path,
        "dispatched": dispatched_backend(m.kernels) if impl.path.startswith("SDPA") else "",
        "kernels": "; ".join(m.kernels), "setup_s": setup_s, "compile_s": m.compile_s, "peak_mem_mib": m.peak_mem_mib,
        "max_abs_err": verdicts[0].max_abs_err, "err_ratio": verdicts[0].err_ratio}
    return Outcome(metrics=metrics, samples_ms=m.samples.times_ms)


JOB = Job(varlen_prefill, VarlenParams, Metrics, ReportHints("speed", x="seq_len", speed="tflops"))
