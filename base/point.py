"""One point of a sweep (`JobSpec`), the fields that identify it, and its one label.

Tensor layout throughout: q (batch, heads, seq_len, head_dim), k/v (batch, kv_heads, kv_len,
head_dim). Every place that names a point (progress lines, report headings, `compare`) uses
`point_label`, and every place that groups rows by point uses `POINT_FIELDS`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

# What makes two rows the same measurement, apart from the backend and the device.
POINT_FIELDS = ("batch", "heads", "kv_heads", "seq_len", "kv_len", "head_dim", "dtype", "causal", "mask", "mode",
                "inputs")
SIZE_FIELDS = ("batch", "heads", "kv_heads", "seq_len", "kv_len", "head_dim")


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
    fault: str = "none"  # fault_injection only
    flash_impl: str = "builtin"  # the kernel behind SDPA's flash backend while the job runs

    def label(self) -> str:
        return point_label(dataclasses.asdict(self))


SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(JobSpec))
SPEC_DEFAULTS = {f.name: f.default for f in dataclasses.fields(JobSpec) if f.default is not dataclasses.MISSING}


def point_label(p: Mapping[str, Any]) -> str:
    """`b4 h16 s4096 d128 bfloat16 causal fwd`, with kv heads and length and a mask other than
    is_causal only where they differ."""
    kv = "" if (p["kv_heads"], p["kv_len"]) == (p["heads"], p["seq_len"]) else f" kv{p['kv_heads']}x{p['kv_len']}"
    mask = p.get("mask", "is_causal")
    causal = "" if not p["causal"] else " causal" if mask == "is_causal" else f" causal({mask})"
    return f"b{p['batch']} h{p['heads']} s{p['seq_len']} d{p['head_dim']}{kv} {p['dtype']}{causal} {p['mode']}"


def implementation(backend: str, flash_impl: str | None) -> str:
    """The name a report compares by: the backend, with the flash kernel behind it where that is
    not torch's built-in one (`flash[FA4]`, `default[FA4]`)."""
    return backend if not flash_impl or flash_impl == "builtin" else f"{backend}[{flash_impl}]"
