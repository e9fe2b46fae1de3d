"""FLOP counts for attention, the convention FlashAttention's benchmarks use.

Forward: two matmuls (QK^T and PV), 2 FLOPs per multiply-add each -> 4 * B * H * D per
attended (query, key) pair. Causal counts only the attended pairs, exactly. Backward is
2.5x forward (five matmuls instead of two), forward+backward 3.5x.
"""
from __future__ import annotations

MODE_FACTOR = {"fwd": 1.0, "bwd": 2.5, "fwd_bwd": 3.5}


def attended_pairs(seq_len: int, kv_len: int, causal: bool, lower_right: bool = False) -> int:
    """Number of (query, key) pairs a causal mask lets through.

    Top left (PyTorch's `is_causal=True`): query i sees keys 0..i, min(i + 1, kv_len) of them.
    Bottom right (`causal_lower_right`): query i sees keys 0..i + kv_len - seq_len.
    """
    if not causal:
        return seq_len * kv_len
    return causal_pairs(seq_len, kv_len, kv_len - seq_len if lower_right else 0)


def causal_pairs(seq_len: int, kv_len: int, offset: int) -> int:
    """sum over rows i < seq_len of clamp(i + 1 + offset, 0, kv_len), in closed form."""
    def ramp(n: int) -> int:  # sum_{i<n} clamp(i + 1 + offset, 0, inf)
        first = max(0, -offset)  # rows before this attend nothing
        return sum_range(first + 1 + offset, n + offset) if n > first else 0
    full_from = max(0, kv_len - 1 - offset)  # first row that attends every key
    if full_from >= seq_len:
        return ramp(seq_len)
    return ramp(full_from) + (seq_len - full_from) * kv_len


def sum_range(lo: int, hi: int) -> int:
    """lo + (lo + 1) + ... + hi."""
    return (lo + hi) * (hi - lo + 1) // 2 if hi >= lo else 0


def attention_flops(batch: int, heads: int, seq_len: int, kv_len: int, head_dim: int,
                    causal: bool, mode: str, lower_right: bool = False) -> float:
    fwd = 4.0 * batch * heads * head_dim * attended_pairs(seq_len, kv_len, causal, lower_right)
    return fwd * MODE_FACTOR[mode]
