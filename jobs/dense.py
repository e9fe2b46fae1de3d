"""The dense attention point that sdpa_benchmark, causal_correctness and fault_injection take: its
parameters (`DenseParams`, the grid axes), its vocabulary, and its inputs.

Tensor layout: q (batch, heads, seq_len, head_dim), k/v (batch, kv_heads, kv_len, head_dim); an
implementation with its own layout (FlashAttention-4: batch, seq, heads, head_dim) gets its inputs
drawn in that layout, so no transpose is timed. `model` and `tp` stand for heads, kv_heads and
head_dim: one GPU's share of a real model (jobs/models.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import torch

from base.fields import bounded, choices, derived
from base.point import Params
from base.vocab import DTYPES
from jobs.models import MODELS, heads_of

DIM_MAX = 2**31 - 1  # a tensor dimension
DRAWS = ("randn", "rand")  # `rand` as in PyTorch's SDPA tutorial
MODES = ("fwd", "bwd", "fwd_bwd")
MASKS = ("is_causal", "bool", "additive", "lower_right")  # how a causal mask is handed to SDPA
# SDPA's own backends (`default` forces none: torch's dispatcher picks), then kernels called
# directly: FlashAttention-4's flash_attn.cute and torch.compile'd FlexAttention.
SDPA_BACKENDS = ("default", "math", "flash", "efficient", "cudnn", "overrideable")
DIRECT_BACKENDS = ("fa4", "flex")
BACKENDS = SDPA_BACKENDS + DIRECT_BACKENDS
# The kernel behind SDPA's flash backend (torch.nn.attention.activate_flash_attention_impl):
# `builtin` is torch's own FlashAttention-2. It matters only to backends that can reach it.
FLASH_IMPLS = ("builtin", "FA3", "FA4")
FLASH_IMPL_BACKENDS = ("default", "flash")


@dataclass(frozen=True, kw_only=True)
class DenseParams(Params):
    batch: int = bounded(1, DIM_MAX, size=True)
    heads: int | None = bounded(1, DIM_MAX, default=None, size=True)  # None: from `model`
    seq_len: int = bounded(1, DIM_MAX, size=True)  # query length
    head_dim: int | None = bounded(1, DIM_MAX, default=None, size=True)  # None: from `model`
    dtype: str = choices(*DTYPES)
    backend: str = choices(*BACKENDS, candidates=True)  # or a `candidates:` name
    causal: bool = False
    kv_heads: int | None = bounded(1, DIM_MAX, default=None, size=True)  # None: as heads (fewer: GQA)
    kv_len: int | None = bounded(1, DIM_MAX, default=None, size=True)  # None: as seq_len
    mode: str = choices(*MODES, default="fwd")
    inputs: str = choices(*DRAWS, default="randn")
    mask: str = choices(*MASKS, default="is_causal")  # causal points only
    flash_impl: str = choices(*FLASH_IMPLS, default="builtin")  # default and flash points only
    model: str | None = choices(*MODELS, default=None)  # heads, kv_heads and head_dim of one GPU of this model
    tp: int = bounded(1, 1024, default=1)  # ...at this tensor-parallel degree
    candidate: str = derived("")  # import path of a user's kernel when `backend` names one

    def resolved(self, candidates: Mapping[str, str]) -> DenseParams:
        """Heads from the model, kv from q where not given, and the axes that do not apply to this
        point (a mask form without causal, a flash kernel on a backend that never reaches it) at
        their first value, so that they only repeat it."""
        shape = heads_of(self.model, self.tp, self.heads, self.kv_heads, self.head_dim)
        return dataclasses.replace(
            self, **shape._asdict(), kv_len=self.kv_len or self.seq_len, mask=self.mask if self.causal else "is_causal",
            flash_impl=self.flash_impl if self.backend in FLASH_IMPL_BACKENDS else "builtin",
            candidate=candidates.get(self.backend, ""))

    def label(self) -> str:
        """`b4 h16 s4096 d128 bfloat16 causal fwd`: kv heads and length, a mask other than is_causal,
        inputs other than randn and the model only where they apply."""
        kv = "" if (self.kv_heads, self.kv_len) == (self.heads, self.seq_len) else f" kv{self.kv_heads}x{self.kv_len}"
        causal = "" if not self.causal else " causal" if self.mask == "is_causal" else f" causal({self.mask})"
        inputs = "" if self.inputs == "randn" else f" {self.inputs}"
        model = f" [{self.model} tp{self.tp}]" if self.model else ""
        return (f"b{self.batch} h{self.heads} s{self.seq_len} d{self.head_dim}{kv} {self.dtype}{causal} {self.mode}"
                f"{inputs}{model}")

    def family(self) -> str:
        model = f"{self.model} tp{self.tp}: " if self.model else ""
        return f"{model}{self.dtype} d{self.head_dim} {'causal' if self.causal else 'non-causal'} {self.mode}"

    def implementation(self) -> str:
        return self.backend if self.flash_impl == "builtin" else f"{self.backend}[{self.flash_impl}]"


def torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)  # base.vocab.DTYPES are torch's own names


def shapes(p: DenseParams, order: str) -> list[tuple[int, ...]]:
    """q, k, v shapes: (B, H, S, D) for `bhsd`, (B, S, H, D) for `bshd`."""
    q = (p.batch, p.heads, p.seq_len, p.head_dim)
    kv = (p.batch, p.kv_heads, p.kv_len, p.head_dim)
    if order == "bshd":
        q, kv = (q[0], q[2], q[1], q[3]), (kv[0], kv[2], kv[1], kv[3])
    return [q, kv, kv]


def make_inputs(p: DenseParams, seed: int, device: torch.device, grad: bool, order: str = "bhsd",
                ) -> tuple[torch.Tensor, ...]:
    """Fresh random q, k, v drawn in `order`; seeded so a point can be replayed."""
    gen = torch.Generator(device=device).manual_seed(seed)
    draw = {"randn": torch.randn, "rand": torch.rand}[p.inputs]
    return tuple(draw(*s, generator=gen, device=device, dtype=torch_dtype(p.dtype)).requires_grad_(grad)
                 for s in shapes(p, order))
