"""FLOP counts for attention, the convention FlashAttention's benchmarks use.

Forward: two matmuls (QK^T and PV), 2 FLOPs per multiply-add each -> 4 * B * H * D per
attended (query, key) pair. Causal counts only the attended pairs, exactly. Backward is
2.5x forward (five matmuls instead of two), forward+backward 3.5x.
"""
from __future__ import annotations

MODE_FACTOR = {"fwd": 1.0, "bwd": 2.5, "fwd_bwd": 3.5}


def attended_pairs(seq_len: int, kv_len: int, causal: bool) -> int:
    """Number of (query, key) pairs a query-key mask lets through.

    PyTorch's `is_causal=True` aligns the mask to the top left: query i sees keys 0..i,
    so row i attends min(i + 1, kv_len) keys.
    """
    if not causal:
        return seq_len * kv_len
    if seq_len <= kv_len:
        return seq_len * (seq_len + 1) // 2
    return kv_len * (kv_len + 1) // 2 + (seq_len - kv_len) * kv_len


def attention_flops(batch: int, heads: int, seq_len: int, kv_len: int, head_dim: int,
                    causal: bool, mode: str) -> float:
    fwd = 4.0 * batch * heads * head_dim * attended_pairs(seq_len, kv_len, causal)
    return fwd * MODE_FACTOR[mode]
