"""Causal masks in the forms SDPA accepts, and the same masks written out as a boolean matrix.

PyTorch's `is_causal=True` aligns the mask to the top left (query i sees keys 0..i);
`torch.nn.attention.bias.causal_lower_right` aligns it to the bottom right (query i sees keys
0..i + kv_len - q_len), which is what decoding with a KV cache needs. With q_len > kv_len the
bottom-right mask leaves the first q_len - kv_len query rows with no key at all.
"""
from __future__ import annotations

import torch


def allowed(seq_len: int, kv_len: int, lower_right: bool, device: torch.device, shift: int = 0) -> torch.Tensor:
    """(seq_len, kv_len) boolean matrix, True where a query may attend a key.
    `shift` moves the diagonal (used to recognise off-by-one bugs)."""
    diagonal = (kv_len - seq_len if lower_right else 0) + shift
    return torch.ones(seq_len, kv_len, dtype=torch.bool, device=device).tril(diagonal)


def sdpa_mask_args(causal: bool, mask: str, q: torch.Tensor, k: torch.Tensor) -> dict:
    """Keyword arguments for F.scaled_dot_product_attention; q (B, H, Sq, D), k (B, Hkv, Skv, D)."""
    if not causal:
        return {}
    seq_len, kv_len = q.shape[-2], k.shape[-2]
    if mask == "is_causal":
        return {"is_causal": True}
    if mask == "lower_right":
        # imported here: torch.nn.attention.bias imports torch._dynamo, ~1-2 s of every
        # worker's start-up otherwise (python -X importtime)
        from torch.nn.attention.bias import causal_lower_right
        return {"attn_mask": causal_lower_right(seq_len, kv_len)}
    keep = allowed(seq_len, kv_len, False, q.device)
    if mask == "bool":
        return {"attn_mask": keep}
    additive = torch.zeros(seq_len, kv_len, dtype=q.dtype, device=q.device).masked_fill(~keep, float("-inf"))
    return {"attn_mask": additive}
