"""The check every inference job makes before it times: an implementation's output against
softmax(QKᵀ/√d)V computed per sequence in float64 over that sequence's own keys, with the
causal mask aligned to the bottom right (query i of q sees keys 0 .. length - q + i).

Pass rule, the one causal_correctness uses (FlashAttention's tests): the max abs error may be at
most 2x that of the same formula computed in the inputs' own dtype, plus the rounding noise of an
fp32 reference (2 * |(ref + 0.3 - 0.3) - ref|); NaN or Inf fails. A failure is a `BadOutput`:
the row is an error that says so, and nothing is timed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch

from jobs.output_check import BadOutput

QUERY_CHUNK = 1024  # rows of a long sequence's queries at a time: its float64 scores stay < 2 GiB


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """q (S_q, H, D) over k, v (S_k, H_kv, D) in `dtype`, bottom-right causal -> (S_q, H, D)."""
    q, k, v = (t.to(dtype) for t in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    out = []
    for start in range(0, len(q), QUERY_CHUNK):
        rows = q[start:start + QUERY_CHUNK]
        scores = torch.einsum("qhd,khd->hqk", rows, k) * q.shape[-1] ** -0.5  # (H, rows, S_k)
        first = len(k) - len(q) + start  # the key the first of these rows sees last
        keep = torch.ones(len(rows), len(k), dtype=torch.bool, device=q.device).tril(first)
        weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)
        out.append(torch.einsum("hqk,khd->qhd", weights, v))
    return torch.cat(out)


@dataclass(frozen=True)
class Verdict:
    max_abs_err: float
    baseline_err: float  # the same formula's in the inputs' dtype
    noise: float

    @property
    def err_ratio(self) -> float:
        return self.max_abs_err / self.baseline_err if self.baseline_err > 0 else float(self.max_abs_err > 0) * 1e30


def verdict(pairs: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]],
            dtype: torch.dtype) -> Verdict:
    """The worst errors over sequences given as (output, q, k, v), each in the packed (S, H, D) form."""
    err = base = noise = 0.0
    for out, q, k, v in pairs:
        ref = attend(q, k, v, torch.float64)
        low = attend(q, k, v, dtype)
        if not torch.isfinite(out).all():
            raise BadOutput("the output has NaN or Inf where attention has finite values")
        err = max(err, (out.double() - ref).abs().max().item())
        base = max(base, (low.double() - ref).abs().max().item())
        ref32 = ref.float()
        noise = max(noise, 2 * ((ref32 + 0.3 - 0.3) - ref32).abs().max().item())
    return Verdict(err, base, noise)


def require_pass(v: Verdict) -> None:
    if not v.max_abs_err <= 2 * v.baseline_err + v.noise:
        raise BadOutput(f"wrong output: max abs err {v.max_abs_err:.3g} against the float64 reference > allowed "
                        f"{2 * v.baseline_err + v.noise:.3g} (2 x the input-dtype formula's {v.baseline_err:.3g} + "
                        "noise)")
