"""Is what a callable returned an answer? Checked once per point, on the probe call, before any
timing: a kernel that returns None, the wrong shape or dtype, NaN where attention has a value,
or that writes over its inputs (`fingerprint`) gives an `error` row saying so, never a fast `ok` row.
"""
from __future__ import annotations

import torch

from jobs.dense import DenseParams
from jobs.masks import allowed


class BadOutput(ValueError):
    """The callable's output cannot be a result of attention on these inputs."""


def fingerprint(tensors: tuple[torch.Tensor, ...]) -> list[int]:
    """An exact checksum per tensor: the sum of its raw bits, so any overwrite shows (no clone needed)."""
    ints = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}  # 1: an fp8 KV cache
    return [t.detach().view(ints[t.element_size()]).sum(dtype=torch.int64).item() for t in tensors]


def live_rows(p: DenseParams, device: torch.device) -> torch.Tensor:
    """(Sq,) True for query rows that attend at least one key: only the bottom-right mask with
    seq_len > kv_len leaves rows with none, where attention has no value."""
    if not (p.causal and p.mask == "lower_right"):
        return torch.ones(p.seq_len, dtype=torch.bool, device=device)
    return allowed(p.seq_len, p.kv_len, True, device).any(dim=-1)


def check_tensor(name: str, got: object, like: torch.Tensor, rows: torch.Tensor | None, seq_dim: int) -> None:
    if not isinstance(got, torch.Tensor):
        raise BadOutput(f"{name} is {type(got).__name__}, not a tensor")
    if tuple(got.shape) != tuple(like.shape) or got.dtype != like.dtype:
        raise BadOutput(f"{name} is {got.dtype} {tuple(got.shape)}; expected {like.dtype} {tuple(like.shape)}")
    values = got if rows is None else got.index_select(seq_dim, rows.nonzero().flatten())
    if not values.isfinite().all():
        raise BadOutput(f"{name} has NaN or Inf where attention has finite values")


def check_output(p: DenseParams, result: object, inputs: tuple[torch.Tensor, ...], seq_dim: int) -> None:
    """`result` of one call in `p.mode`: the output like q (fwd), or dq, dk, dv like q, k, v. q's
    sequence axis is `seq_dim`. (That the call left its inputs as they were, jobs/measure.py checks.)"""
    rows = live_rows(p, inputs[0].device)
    if p.mode == "fwd":
        check_tensor("the output", result, inputs[0], rows, seq_dim)
    else:
        grads = result if isinstance(result, (tuple, list)) else (result,)
        if len(grads) != 3:
            raise BadOutput(f"the backward gave {len(grads)} gradients, not dq, dk, dv")
        for name, grad, like in zip(("dq", "dk", "dv"), grads, inputs):
            check_tensor(name, grad, like, rows if name == "dq" else None, seq_dim)
