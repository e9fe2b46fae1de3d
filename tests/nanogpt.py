"""A nanoGPT-style causal self-attention block, computed two ways that must agree.

Fused QKV projection, heads split as embed_dim // n_heads with the batch dimension kept
(x is (B, T, C) throughout; folding B into T or splitting by 3 * n_heads are the classic bugs).
`explicit` writes the masked softmax out; `sdpa` calls F.scaled_dot_product_attention.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, embed_dim: int, n_heads: int):
        super().__init__()
        if embed_dim % n_heads:
            raise ValueError(f"embed_dim={embed_dim} is not a multiple of n_heads={n_heads}")
        self.n_heads, self.head_dim = n_heads, embed_dim // n_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)  # fused: one matmul gives q, k and v
        self.proj = nn.Linear(embed_dim, embed_dim)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, C) -> q, k, v each (B, n_heads, T, head_dim)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        return tuple(t.view(B, T, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        """(B, n_heads, T, head_dim) -> (B, T, C), then the output projection."""
        B, _, T, _ = y.shape
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, self.n_heads * self.head_dim))

    def explicit(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.heads(x)
        T = x.shape[1]
        att = (q @ k.transpose(-2, -1)) * self.head_dim ** -0.5  # (B, nh, T, T)
        keep = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = torch.softmax(att.masked_fill(~keep, float("-inf")), dim=-1)
        return self.merge(att @ v)

    def sdpa(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.heads(x)
        return self.merge(F.scaled_dot_product_attention(q, k, v, is_causal=True))

    forward = sdpa
