"""Job `causal_correctness`: is a backend's attention right on this device, and if not, why?

Reference: softmax(Q K^T / sqrt(d)) V written out in float64 on the same device, with the mask
as an explicit boolean matrix: independent of every SDPA kernel. Pass rule (FlashAttention's
tests): the backend's max abs error may be at most 2x that of the plain math formula run in the
input's own low precision, plus the rounding noise of FlashAttention's fp32 reference
(2 * |(ref + 0.3 - 0.3) - ref| in float32); NaN/Inf where the reference has none fails. That
baseline is the same formula in the input dtype, not PyTorch's `math` backend, because the backend
upcasts fp16/bf16 to fp32 internally (its GPU kernels are fp32 GEMMs): it would be a float32
baseline, stricter than the rule means. Query rows that can attend no key (bottom-right mask,
seq_len > kv_len) are left out of the errors and reported separately: what each backend returns
there is its own choice.
When a check fails, the output is compared with references of known bugs, to name the bug.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import torch

from base.schema import ReportHints
from jobs.backends import attention_call, forced
from jobs.contract import Job, JobContext, Outcome
from jobs.dense import DenseParams, make_inputs
from jobs.masks import allowed
from jobs.output_check import live_rows


class Metrics(TypedDict, total=False):
    passed: bool
    check: str  # `pass`, or `FAIL ...` naming what is wrong and the known bug it matches
    max_abs_err: float  # the output's, against the float64 reference
    math_max_abs_err: float  # the same formula's in the input dtype: the baseline
    err_ratio: float  # max_abs_err / math_max_abs_err (the rule allows 2x)
    rel_l2_err: float
    grad_err_ratio: float  # the worst of dq, dk, dv (fwd_bwd)
    empty_rows: str  # what the backend returned for query rows that attend no key: zeros | nan | other


@dataclass(frozen=True)
class Variant:
    """A way to compute attention by hand: the right one, or a known bug."""
    what: str
    scale_off: bool = False  # no 1/sqrt(d)
    other_corner: bool = False  # mask aligned to the other corner
    shift: int = 0  # mask diagonal moved
    softmax_dim: int = -1  # -2: softmax over queries
    no_mask: bool = False


RIGHT = Variant("the right formula")
BUGS = (Variant("no 1/sqrt(d) scale", scale_off=True),
        Variant("the causal mask aligned to the wrong corner", other_corner=True),
        Variant("the causal mask off by one diagonal (one key too many)", shift=1),
        Variant("the causal mask off by one diagonal (one key too few)", shift=-1),
        Variant("softmax over the wrong axis (queries, not keys)", softmax_dim=-2),
        Variant("no causal mask at all", no_mask=True))


def reference(q, k, v, p: DenseParams, variant: Variant) -> torch.Tensor:
    """Attention by hand in q's dtype; q (B, H, Sq, D), k/v (B, Hkv, Skv, D) -> (B, H, Sq, D)."""
    group = p.heads // p.kv_heads
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # (B, H, Skv, D)
    scale = 1.0 if variant.scale_off else p.head_dim ** -0.5
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, Sq, Skv)
    if p.causal and not variant.no_mask:
        lower_right = (p.mask == "lower_right") != variant.other_corner
        keep = allowed(p.seq_len, p.kv_len, lower_right, q.device, variant.shift)
        scores = scores.masked_fill(~keep, float("-inf"))
    # a row with no key is all -inf: softmax gives NaN there; PyTorch's math backend gives 0
    return torch.softmax(scores, dim=variant.softmax_dim).nan_to_num(0.0) @ v


def max_abs(x: torch.Tensor, ref: torch.Tensor, rows: torch.Tensor) -> float:
    return (x.double() - ref)[..., rows, :].abs().max().item()


def outputs(fn, q, k, v, dout, grads: bool) -> list[torch.Tensor]:
    """[out] or [out, dq, dk, dv] for one way of computing attention."""
    out = fn(q, k, v)
    return [out, *torch.autograd.grad(out, (q, k, v), dout)] if grads else [out.detach()]


def rounding_noise(ref: torch.Tensor) -> float:
    """FlashAttention's allowance for its fp32 reference's own rounding: 2 * |(ref + 0.3 - 0.3) - ref|.
    Without it the 2x rule flakes on gradients: the max of two rounding patterns over many
    elements (seen on CPU flash: dq ratio 1.1-3.7 over 20 seeds in float32)."""
    ref32 = ref.detach().float()
    return 2 * ((ref32 + 0.3 - 0.3) - ref32).abs().max().item()


def empty_rows_output(out: torch.Tensor, rows: torch.Tensor) -> str:
    """What a backend returns for query rows that attend no key: zeros, nan, or other."""
    if rows.all():
        return ""
    dead = out[..., ~rows, :]
    return "nan" if dead.isnan().any() else "zeros" if (dead == 0).all() else "other"


def diagnose(out: torch.Tensor, q64, k64, v64, p: DenseParams) -> str:
    """Name the known bug whose hand-written reference the output is far closer to (20x) than to
    the right one. NaNs become zeros first, as in the references' rows with no key."""
    bugs = [b for b in BUGS if p.causal or not (b.shift or b.other_corner or b.no_mask)]
    bugs = [b for b in bugs if not (b.other_corner and p.seq_len == p.kv_len)]
    out = out.detach().double().nan_to_num(0.0)
    every_row = torch.ones(p.seq_len, dtype=torch.bool, device=out.device)
    right = max_abs(out, reference(q64, k64, v64, p, RIGHT), every_row)
    err, what = min((max_abs(out, reference(q64, k64, v64, p, b), every_row), b.what) for b in bugs)
    if err * 20 <= right:
        return f"the output matches {what} (max abs err {err:.3g} against that, {right:.3g} against the right formula)"
    return ("the output matches none of the known bugs (no scale, wrong corner, diagonal off by one, softmax axis, "
            "no mask)")


def causal_correctness(p: DenseParams, ctx: JobContext) -> Outcome:
    grads, device = p.mode != "fwd", ctx.device
    q, k, v = make_inputs(p, ctx.seed, device, grad=grads)  # low precision, seeded: replayable
    gen = torch.Generator(device=device).manual_seed(ctx.seed + 1)
    dout = torch.randn(q.shape, generator=gen, device=device, dtype=q.dtype)  # same upstream grad for all
    q64, k64, v64 = (t.detach().double().requires_grad_(grads) for t in (q, k, v))
    ref = outputs(lambda *t: reference(*t, p, RIGHT), q64, k64, v64, dout.double(), grads)
    lowp = [t.detach().requires_grad_(grads) for t in (q, k, v)]  # same values, own graph
    math = outputs(lambda *t: reference(*t, p, RIGHT), *lowp, dout, grads)
    with forced(p, device):
        test = outputs(attention_call(p, q, k), q, k, v, dout, grads)
    rows = live_rows(p, device)
    names = ["out", "dq", "dk", "dv"][:len(ref)]
    query_rows = {"out": rows, "dq": rows}  # dk, dv are per key: every row counts
    every = torch.ones(p.kv_len, dtype=torch.bool, device=device)
    errs = {n: (max_abs(t, r, query_rows.get(n, every)), max_abs(m, r, query_rows.get(n, every)), rounding_noise(r))
            for n, t, m, r in zip(names, test, math, ref)}
    failures = [f"{n}: max abs err {e:.3g} > allowed {2 * me + noise:.3g} "
                f"(2 x the input-dtype formula's {me:.3g} + noise)"
                for n, (e, me, noise) in errs.items() if not e <= 2 * me + noise]  # NaN fails too
    if not test[0][..., rows, :].isfinite().all():
        failures.insert(0, "out: NaN/Inf where the reference has none")
    if failures:
        failures.append(diagnose(test[0], q64, k64, v64, p))
    out_err = (test[0].double() - ref[0])[..., rows, :]
    ratios = {n: e / me if me > 0 else (0.0 if e == 0 else float("inf")) for n, (e, me, _) in errs.items()}
    return Outcome(metrics={
        "passed": not failures, "check": "FAIL " + "; ".join(failures) if failures else "pass",
        "max_abs_err": errs["out"][0], "math_max_abs_err": errs["out"][1], "err_ratio": ratios["out"],
        "rel_l2_err": (out_err.norm() / ref[0][..., rows, :].norm()).item(),
        "grad_err_ratio": max((ratios[n] for n in names[1:]), default=None),
        "empty_rows": empty_rows_output(test[0], rows)})


JOB = Job(causal_correctness, DenseParams, Metrics, ReportHints("check"))
