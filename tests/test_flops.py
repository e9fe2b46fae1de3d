"""FLOP counts against cases counted by hand."""
import pytest

from jobs.flops import attended_pairs, attention_flops


def brute_force_pairs(seq_len: int, kv_len: int) -> int:
    """Top-left causal mask, counted cell by cell: query i sees key j iff j <= i."""
    return sum(1 for i in range(seq_len) for j in range(kv_len) if j <= i)


@pytest.mark.parametrize("seq_len,kv_len", [(1, 1), (4, 4), (3, 7), (7, 3), (257, 129), (128, 1024)])
def test_causal_pairs_match_the_mask_cell_by_cell(seq_len, kv_len):
    assert attended_pairs(seq_len, kv_len, causal=True) == brute_force_pairs(seq_len, kv_len)


def test_hand_counted_cases():
    # 4x4 causal: 1+2+3+4 = 10 pairs; 2 queries over 5 keys: 1+2 = 3; 5 queries over 2 keys: 1+2+2+2+2 = 9
    assert attended_pairs(4, 4, True) == 10
    assert attended_pairs(2, 5, True) == 3
    assert attended_pairs(5, 2, True) == 9
    assert attended_pairs(5, 2, False) == 10


def test_forward_backward_factors():
    # tutorial shape, non-causal: 4 * 32 * 32 * 2048 * 2048 * 224 FLOPs forward
    fwd = 4 * 32 * 32 * 2048 * 2048 * 224
    assert attention_flops(32, 32, 2048, 2048, 224, False, "fwd") == fwd
    assert attention_flops(32, 32, 2048, 2048, 224, False, "bwd") == 2.5 * fwd
    assert attention_flops(32, 32, 2048, 2048, 224, False, "fwd_bwd") == 3.5 * fwd
    # causal square: (S * (S + 1) / 2) / S^2 of the dense count
    assert attention_flops(1, 1, 4, 4, 8, True, "fwd") == 4 * 8 * 10


def brute_force_lower_right(seq_len: int, kv_len: int) -> int:
    """Bottom-right causal mask, cell by cell: query i sees key j iff j <= i + kv_len - seq_len."""
    return sum(1 for i in range(seq_len) for j in range(kv_len) if j <= i + kv_len - seq_len)


@pytest.mark.parametrize("seq_len,kv_len", [(1, 1), (4, 4), (3, 7), (7, 3), (257, 129), (128, 1024), (1, 9)])
def test_lower_right_pairs_match_the_mask_cell_by_cell(seq_len, kv_len):
    assert attended_pairs(seq_len, kv_len, True, lower_right=True) == brute_force_lower_right(seq_len, kv_len)
    # 7 queries over 3 keys, bottom right: rows 0..3 see nothing, then 1, 2, 3 keys
    assert attended_pairs(7, 3, True, lower_right=True) == 6
