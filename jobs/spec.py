"""What one job is asked to do (`JobSpec`) and what it hands back (`Outcome`).

A `JobSpec` is one point of a sweep, device-agnostic: the driver pairs it with a worker.
Tensor layout throughout: q (batch, heads, seq_len, head_dim), k/v (batch, kv_heads, kv_len, head_dim).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

STATUSES = ("ok", "oom", "unsupported", "error", "crashed", "timeout", "skipped")


@dataclass(frozen=True)
class JobSpec:
    job: str
    sweep: str
    backend: str
    dtype: str
    batch: int
    heads: int
    kv_heads: int
    seq_len: int  # query length
    kv_len: int
    head_dim: int
    causal: bool
    mode: str  # fwd | bwd | fwd_bwd
    inputs: str  # randn | rand
    seed: int
    mask: str = "is_causal"  # how a causal mask reaches SDPA: is_causal | bool | additive | lower_right
    candidate: str = ""  # import path of a user's kernel when `backend` names one
    fault: str = "none"  # fault_injection only: none | oom | error | crash | hang

    def label(self) -> str:
        """Short human label, for progress lines and report headings."""
        kv = "" if (self.kv_heads, self.kv_len) == (self.heads, self.seq_len) else f" kv{self.kv_heads}x{self.kv_len}"
        return (f"b{self.batch} h{self.heads} s{self.seq_len} d{self.head_dim}{kv} {self.dtype}"
                f"{' causal' if self.causal else ''} {self.mode}")


class Unsupported(Exception):
    """The backend cannot run this shape on this device; the message is torch's reason."""


@dataclass(frozen=True)
class Outcome:
    """A job's answer: flat metrics (keys are `Result` field names) and raw timing samples."""
    metrics: Mapping[str, float | int | str | None] = field(default_factory=dict)
    samples_ms: tuple[float, ...] = ()
