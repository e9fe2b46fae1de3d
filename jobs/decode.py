"""Job `decode`: one decode step of a batch over its KV cache, judged by the bytes it moves.

Each sequence of the batch has its own length (`kv_lens: equal`, or `uniform` between kv_min and
kv_len, drawn with the run's seed) and adds `q_tokens` new tokens (1; 2 to 16 for speculative
decoding) that attend to its keys with a bottom-right causal mask. The cache is dense (`page_size:
null`, padded to the longest sequence) or paged, its pages shuffled (jobs/kv_cache.py).
Everything an implementation builds or plans is made before any timing (jobs/decode_backends.py);
its output is checked against a float64 reference over each sequence's own keys
(jobs/reference.py) before a single rep is timed.

The byte model (docs/methods.md): what the step must move, each once: q read, the keys and values
each sequence attends read (sum of its lengths, not the padding or the pages' unused slots), the
output written; the page table is not counted (< 0.01%). `gbs` is that over the sustained median.
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
from jobs.contract import Job, JobContext, Outcome, Unsupported
from jobs.decode_backends import IMPLEMENTATIONS, Prepared, candidate
from jobs.dense import DIM_MAX, torch_dtype
from jobs.gpu_state import GpuStateMetrics
from jobs.kernels import dispatched_backend
from jobs.kv_cache import Cache, draw_lengths, make_cache, random, sequence
from jobs.measure import measure
from jobs.models import MODELS, heads_of
from jobs.output_check import BadOutput
from jobs.reference import require_pass, verdict
from jobs.rep_check import RepCheckMetrics
from jobs.timing import TimingMetrics, timing_metrics

KV_DTYPES = ("same", "float8_e4m3fn")  # `same`: the cache in q's dtype


@dataclass(frozen=True, kw_only=True)
class DecodeParams(Params):
    batch: int = bounded(1, 2**20, size=True)
    kv_len: int = bounded(1, DIM_MAX, size=True)  # every sequence's length (equal), or the longest (uniform)
    q_tokens: int = bounded(1, 16, default=1, size=True)  # new tokens per sequence: 1, or a speculative draft
    kv_lens: str = choices("equal", "uniform", default="equal")
    kv_min: int | None = bounded(1, DIM_MAX, default=None)  # uniform: the shortest (None: kv_len // 4)
    page_size: int | None = bounded(1, 2**20, default=None)  # None: a contiguous cache, padded to the longest
    heads: int | None = bounded(1, DIM_MAX, default=None, size=True)  # None: from `model`
    kv_heads: int | None = bounded(1, DIM_MAX, default=None, size=True)
    head_dim: int | None = bounded(1, DIM_MAX, default=None, size=True)
    dtype: str = choices(*DTYPES)
    kv_dtype: str = choices(*KV_DTYPES, default="same")
    backend: str = choices(*IMPLEMENTATIONS, candidates=True)  # or a `candidates:` name
    tensor_cores: bool = False  # FlashInfer's use_tensor_cores (one-token decode only)
    model: str | None = choices(*MODELS, default=None)
    tp: int = bounded(1, 1024, default=1)
    candidate: str = derived("")

    def resolved(self, candidates: Mapping[str, str]) -> DecodeParams:
        shape = heads_of(self.model, self.tp, self.heads, self.kv_heads, self.head_dim)
        kv_min = self.kv_min if self.kv_lens == "uniform" else None
        p = dataclasses.replace(self, **shape._asdict(), kv_min=kv_min, candidate=candidates.get(self.backend, ""),
                                tensor_cores=self.tensor_cores and self.backend == "flashinfer" and self.q_tokens == 1)
        if p.shortest() > self.kv_len:
            raise ValueError(f"kv_min={kv_min} is more than kv_len={self.kv_len}; the uniform mix draws lengths "
                             "between them: make kv_min <= kv_len")
        if self.q_tokens > p.shortest():
            raise ValueError(f"q_tokens={self.q_tokens} is more than the shortest sequence ({p.shortest()} keys): a "
                             "step's own tokens are in its cache; make q_tokens <= kv_len (and kv_min)")
        return p

    def shortest(self) -> int:
        """The shortest a sequence may be: kv_len (equal), kv_min, or a quarter of kv_len (uniform)."""
        if self.kv_lens == "equal":
            return self.kv_len
        return self.kv_min or max(self.kv_len // 4, self.q_tokens, 1)

    def cache_layout(self) -> str:
        return "dense padded" if self.page_size is None else f"paged {self.page_size}"

    def lengths_label(self) -> str:
        return f"kv{self.kv_len}" if self.kv_lens == "equal" else f"kv{self.shortest()}-{self.kv_len}"

    def label(self) -> str:
        kv = "" if self.kv_dtype == "same" else f" kv:{self.kv_dtype}"
        model = f" [{self.model} tp{self.tp}]" if self.model else ""
        return (f"b{self.batch} q{self.q_tokens} {self.lengths_label()} h{self.heads}/{self.kv_heads} d{self.head_dim} "
                f"{self.dtype}{kv} {self.cache_layout()}{model}")

    def family(self) -> str:
        lens = ("equal lengths" if self.kv_lens == "equal" else f"uniform lengths from {self.kv_min}" if self.kv_min
                else "uniform lengths from a quarter of kv_len")
        kv = "" if self.kv_dtype == "same" else f" kv:{self.kv_dtype}"
        model = f" {self.model} tp{self.tp}" if self.model else ""
        shape = f"h{self.heads}/{self.kv_heads} d{self.head_dim} q{self.q_tokens}"
        return f"decode{model} {self.dtype}{kv} {shape}, {lens}, {self.cache_layout()}"

    def implementation(self) -> str:
        return f"{self.backend}[tc]" if self.tensor_cores else self.backend


class Metrics(TimingMetrics, GpuStateMetrics, RepCheckMetrics, total=False):
    bytes_moved: float  # the byte model above
    gbs: float  # bytes_moved / median_ms: sustained GB/s (1e9 B/s)
    tokens_per_s: float  # batch x q_tokens new tokens over the sustained median
    kv_tokens: int  # keys attended: the sum of the sequences' lengths
    flops: float  # 4 x heads x head_dim per attended (query, key) pair
    tflops: float
    cache_layout: str  # dense padded | paged N: different workloads, never ranked as one
    kernel_path: str  # what ran, in words (and what `default` chose: `dispatched`)
    dispatched: str
    kernels: str
    setup_s: float  # the implementation's layout, masks and plan, outside the timing
    compile_s: float
    peak_mem_mib: float
    max_abs_err: float  # the probe's output against the float64 reference
    err_ratio: float  # ...over the same formula's error in the inputs' dtype (the rule allows 2x)


def step_inputs(p: DecodeParams, seed: int, device: torch.device) -> tuple[torch.Tensor, Cache, torch.Generator]:
    """q (B, q_tokens, H, D) and the cache, seeded; the generator goes on to the layouts' padding."""
    gen = torch.Generator(device=device).manual_seed(seed)
    lengths = draw_lengths(p.batch, p.kv_len, p.kv_lens, p.shortest(), torch.Generator().manual_seed(seed))
    q = random((p.batch, p.q_tokens, p.heads, p.head_dim), torch_dtype(p.dtype), gen, device)
    kv_dtype = torch_dtype(p.dtype if p.kv_dtype == "same" else p.kv_dtype)
    return q, make_cache(lengths, p.kv_heads, p.head_dim, kv_dtype, p.page_size, gen, device), gen


def prepare(p: DecodeParams, q: torch.Tensor, cache: Cache, gen: torch.Generator) -> Prepared:
    if p.kv_dtype != "same" and p.backend != "flashinfer":
        raise Unsupported(f"{p.backend} takes no {p.kv_dtype} KV cache here (flashinfer does)")
    build = candidate if p.candidate else IMPLEMENTATIONS[p.backend]
    return build(p, q, cache, gen)


@contextmanager
def prepared(p: DecodeParams, seed: int, device: torch.device) -> Iterator[tuple[Callable[[], object], tuple]]:
    """The callable this job times at `p` and what it reads, built as the job builds them (for
    scripts that time it another way: benchmarks/do_bench_loop.py)."""
    q, cache, gen = step_inputs(p, seed, device)
    impl = prepare(p, q, cache, gen)
    with impl.context():
        yield impl.call, impl.inputs


def check(out: torch.Tensor, q: torch.Tensor, cache: Cache):
    """Every sequence's output rows against the float64 reference over its own keys."""
    pairs = ((out[b].float(), q[b], *(t.float() for t in sequence(cache, b))) for b in range(cache.batch))
    return verdict(pairs, q.dtype)


def byte_model(p: DecodeParams, cache: Cache, q: torch.Tensor) -> tuple[float, int, float]:
    """(bytes moved, keys attended, FLOPs) of the step."""
    kv_tokens = int(cache.lengths.long().sum())
    kv_bytes = 2 * kv_tokens * p.kv_heads * p.head_dim * cache.k.element_size()
    q_bytes = q.numel() * q.element_size()
    pairs = p.q_tokens * kv_tokens - p.batch * p.q_tokens * (p.q_tokens - 1) // 2  # bottom-right causal
    return float(2 * q_bytes + kv_bytes), kv_tokens, 4.0 * p.heads * p.head_dim * pairs


def decode(p: DecodeParams, ctx: JobContext) -> Outcome:
    q, cache, gen = step_inputs(p, ctx.seed, ctx.device)
    t0 = time.perf_counter()
    impl = prepare(p, q, cache, gen)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    setup_s = time.perf_counter() - t0
    verdicts = []

    def check_probe(out):
        if not isinstance(out, torch.Tensor) or tuple(impl.logical(out).shape) != tuple(q.shape):
            raise BadOutput(f"the output is {type(out).__name__} {tuple(getattr(out, 'shape', ()))}; expected "
                            f"{tuple(q.shape)} (B, q_tokens, H, D) in the implementation's layout")
        verdicts.append(check(impl.logical(out), q, cache))
        require_pass(verdicts[-1])
    with impl.context():
        m = measure(impl.call, ctx, impl.inputs, check_probe, impl.compiles)
    timed = timing_metrics(m.samples)
    moved, kv_tokens, flops = byte_model(p, cache, q)
    seconds = timed["median_ms"] * 1e-3
    metrics: Metrics = {
        **timed, **m.gpu, **m.rep_checks, "bytes_moved": moved, "gbs": moved / seconds / 1e9,
        "tokens_per_s": p.batch * p.q_tokens / seconds, "kv_tokens": kv_tokens, "flops": flops,
        "tflops": flops / seconds / 1e12, "cache_layout": p.cache_layout(), "kernel_path": impl.path,
        "dispatched": dispatched_backend(m.kernels) if impl.path.startswith("SDPA") else "",
        "kernels": "; ".join(m.kernels), "setup_s": setup_s, "compile_s": m.compile_s,
        "peak_mem_mib": m.peak_mem_mib, "max_abs_err": verdicts[0].max_abs_err, "err_ratio": verdicts[0].err_ratio}
    return Outcome(metrics=metrics, samples_ms=m.samples.times_ms)


REPORT = ReportHints("speed", x="kv_len", speed="gbs", by="batch")
JOB = Job(decode, DecodeParams, Metrics, REPORT)
