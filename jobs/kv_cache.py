"""A decode step's inputs, built before any timing: each sequence's length, its queries, its keys
and values, and the layouts implementations read them in.

The keys and values are drawn once, packed: sequence b's tokens at rows offsets[b]:offsets[b+1]
of (total_tokens, kv_heads, head_dim). That is what the reference reads. An implementation gets
them in its own layout, copied from there:
- paged: (num_pages, page_size, kv_heads, head_dim) pages, and a page table (batch, max_pages)
  giving each sequence's pages in order. The pages are shuffled, so a kernel that ignores the table
  reads other sequences' keys; the slots past a sequence's end hold random values, so one that
  attends past the end reads garbage too. Both fail the check.
- padded: (batch, longest, kv_heads, head_dim) (or heads first), the same random values past each
  sequence's end.
The queries are (batch, q_tokens, heads, head_dim): the step's new tokens, the last q_tokens of
each sequence, attending with a bottom-right causal mask (token i sees keys 0 .. length - q + i).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Cache:
    lengths: torch.Tensor  # (B,) int32: keys per sequence, the step's own tokens included
    offsets: torch.Tensor  # (B + 1,) int32: where each sequence's keys start in k, v
    k: torch.Tensor  # (total_tokens, kv_heads, head_dim), packed
    v: torch.Tensor
    page_size: int | None = None
    pages_k: torch.Tensor | None = None  # (num_pages, page_size, kv_heads, head_dim)
    pages_v: torch.Tensor | None = None
    page_table: torch.Tensor | None = None  # (B, max_pages) int32, physical page of each logical one

    @property
    def batch(self) -> int:
        return len(self.lengths)

    @property
    def longest(self) -> int:
        return int(self.lengths.max())


def draw_lengths(batch: int, kv_len: int, mix: str, kv_min: int | None, gen: torch.Generator) -> torch.Tensor:
    """(B,) int32: every sequence `kv_len` long (`equal`), or uniform in [kv_min, kv_len], seeded."""
    if mix == "equal":
        return torch.full((batch,), kv_len, dtype=torch.int32)
    return torch.randint(kv_min, kv_len + 1, (batch,), generator=gen, dtype=torch.int32)


def make_cache(lengths: torch.Tensor, kv_heads: int, head_dim: int, dtype: torch.dtype, page_size: int | None,
               gen: torch.Generator, device: torch.device) -> Cache:
    offsets = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    offsets[1:] = lengths.cumsum(0)
    total = int(offsets[-1])
    k, v = (random((total, kv_heads, head_dim), dtype, gen, device) for _ in range(2))
    cache = Cache(lengths.to(device), offsets.to(device), k, v)
    return cache if page_size is None else paged(cache, page_size, gen)


def random(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Fresh randn values (never zeros), drawn in `dtype` (bfloat16 for an fp8 cache, then cast): a
    cache of tens of GB is never held twice in float32."""
    if dtype.itemsize == 1:
        return torch.randn(shape, generator=gen, device=device, dtype=torch.bfloat16).to(dtype)
    return torch.randn(shape, generator=gen, device=device, dtype=dtype)


def token_index(cache: Cache) -> tuple[torch.Tensor, torch.Tensor]:
    """(sequence, position) of every packed token, on the cache's device."""
    seq = torch.repeat_interleave(torch.arange(cache.batch, device=cache.k.device), cache.lengths.long())
    return seq, torch.arange(len(seq), device=cache.k.device) - cache.offsets.long()[seq]


def paged(cache: Cache, page_size: int, gen: torch.Generator) -> Cache:
    """The cache in shuffled pages of `page_size` tokens, with its page table."""
    pages_per = (cache.lengths.long() + page_size - 1) // page_size  # (B,)
    n_pages, device = int(pages_per.sum()), cache.k.device
    physical = torch.randperm(n_pages, generator=gen, device=gen.device).to(device)  # the shuffle
    table = torch.zeros(cache.batch, int(pages_per.max()), dtype=torch.int32, device=device)
    first = torch.cumsum(pages_per, 0) - pages_per  # each sequence's first logical page in `physical`
    seq_of_page = torch.repeat_interleave(torch.arange(cache.batch, device=device), pages_per)
    slot_of_page = torch.arange(n_pages, device=device) - first[seq_of_page]
    table[seq_of_page, slot_of_page] = physical.to(torch.int32)
    shape = (n_pages, page_size, *cache.k.shape[1:])
    pages_k, pages_v = (random(shape, cache.k.dtype, gen, device) for _ in range(2))
    seq, pos = token_index(cache)
    slots = table[seq, pos // page_size].long() * page_size + pos % page_size
    pages_k.view(-1, *cache.k.shape[1:])[slots] = cache.k
    pages_v.view(-1, *cache.v.shape[1:])[slots] = cache.v
    return Cache(cache.lengths, cache.offsets, cache.k, cache.v, page_size, pages_k, pages_v, table)


def padded(cache: Cache, gen: torch.Generator, heads_first: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """k, v as (B, longest, kv_heads, D), or (B, kv_heads, longest, D) with `heads_first`; random past
    each sequence's end."""
    seq, pos = token_index(cache)
    out = []
    for packed in (cache.k, cache.v):
        dense = random((cache.batch, cache.longest, *packed.shape[1:]), packed.dtype, gen, packed.device)
        dense[seq, pos] = packed
        out.append(dense.transpose(1, 2).contiguous() if heads_first else dense)
    return out[0], out[1]


def sequence(cache: Cache, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence b's keys and values, (length, kv_heads, D): the gathered dense cache the reference reads."""
    start, end = int(cache.offsets[b]), int(cache.offsets[b + 1])
    return cache.k[start:end], cache.v[start:end]
