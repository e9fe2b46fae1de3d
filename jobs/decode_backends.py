"""Decode implementations by name, each called in its own layout over the cache (jobs/kv_cache.py),
with whatever it plans or builds done here, before any timing.

SDPA's backends read a padded dense cache, with an additive mask in q's dtype where sequences differ
in length or the step has several tokens (`enable_gqa` for grouped heads); FlexAttention reads a
padded cache with a length mask, or the pages themselves through a block mask whose blocks are the
pages in the page table's order (attention-gym's paged attention); FlashAttention-4 reads a padded
cache (`seqused_k`) or the pages (`page_table`); FlashInfer its paged cache, planned once. A
candidate is called `fn(q, k_cache, v_cache, seq_lens, page_table)`: q (B, q_tokens, H, D);
k_cache, v_cache the pages (num_pages, page_size, H_kv, D) with page_table (B, max_pages) int32, or
padded (B, longest, H_kv, D) with page_table None; seq_lens (B,) int32; returns (B, q_tokens, H, D).
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Callable

import importlib
from types import ModuleType

import torch
import torch.nn.functional as F

from jobs.backends import compiled_flex, import_candidate, sdpa_forced
from jobs.contract import Unsupported
from jobs.kv_cache import Cache, padded

FLASHINFER_WORKSPACE_BYTES = 128 * 2**20  # what FlashInfer's wrappers recommend
INSTALLS = {"fa4": "FlashAttention-4: pip install flash-attn-4",
            "flashinfer": "pip install flashinfer-python (NVIDIA GPUs; it compiles its kernels with nvcc on first use)"}
MODULES = {"fa4": "flash_attn.cute", "flashinfer": "flashinfer"}


def gpu_package(name: str, device: torch.device) -> ModuleType:
    """The module of an implementation that runs on NVIDIA GPUs only; Unsupported, saying what to
    install, where it cannot run."""
    if device.type != "cuda":
        raise Unsupported(f"{name} runs on NVIDIA GPUs only")
    try:
        return importlib.import_module(MODULES[name])
    except ImportError as err:
        raise Unsupported(f"{name} needs {INSTALLS[name]} ({err})") from None


@dataclass
class Prepared:
    """One implementation ready to run a decode step: `call()` is what is timed."""
    call: Callable[[], torch.Tensor]
    inputs: tuple[torch.Tensor, ...]  # what it reads: must come back unchanged
    logical: Callable[[torch.Tensor], torch.Tensor]  # its output as (B, q_tokens, H, D), for the check
    compiles: bool  # a first call compiles (flex, FA4, FlashInfer): timed apart as compile_s
    path: str  # what runs, in words, for the row
    # what every call is made inside (SDPA's forced backend): entered once around all of them, so
    # that no rep times the host entering it
    context: Callable[[], AbstractContextManager] = field(default=nullcontext)


def sdpa(p, q: torch.Tensor, cache: Cache, gen: torch.Generator) -> Prepared:
    if cache.page_size is not None:
        raise Unsupported(f"SDPA ({p.backend}) reads a dense cache and has no page table; SDPA is timed at "
                          "page_size: null (a padded dense cache)")
    k, v = padded(cache, gen, heads_first=True)  # (B, H_kv, longest, D)
    qs = q.transpose(1, 2).contiguous()  # (B, H, q_tokens, D)
    mask = decode_mask(cache, q.shape[1], q.dtype)
    kwargs = {"attn_mask": mask, "enable_gqa": qs.shape[1] != k.shape[1]}

    what = "no mask" if mask is None else f"an additive mask {tuple(mask.shape)}"
    return Prepared(lambda: F.scaled_dot_product_attention(qs, k, v, **kwargs), (qs, k, v),
                    lambda out: out.transpose(1, 2), False, f"SDPA {p.backend} over a padded dense cache, {what}",
                    lambda: sdpa_forced(p.backend, "builtin", q.device))


def decode_mask(cache: Cache, q_tokens: int, dtype: torch.dtype) -> torch.Tensor | None:
    """(B, 1, q_tokens, longest) additive mask in q's dtype (0 or -inf): token i of sequence b sees
    keys 0 .. length_b - q + i. None where every query sees every key (one token, equal lengths)."""
    if q_tokens == 1 and bool((cache.lengths == cache.longest).all()):
        return None
    keys = torch.arange(cache.longest, device=cache.k.device)
    last = cache.lengths.long()[:, None] - q_tokens + torch.arange(q_tokens, device=cache.k.device)  # (B, q)
    keep = keys[None, None, :] <= last[:, :, None]  # (B, q, longest)
    return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, float("-inf"))[:, None]


def flex(p, q: torch.Tensor, cache: Cache, gen: torch.Generator) -> Prepared:
    from torch.nn.attention.flex_attention import BlockMask, create_block_mask

    qs, q_tokens, lens = q.transpose(1, 2).contiguous(), q.shape[1], cache.lengths
    if cache.page_size is None:
        k, v = padded(cache, gen, heads_first=True)
        mask = create_block_mask(lambda b, h, i, j: j <= lens[b] - q_tokens + i, cache.batch, 1, q_tokens,
                                 cache.longest, device=q.device)
        path = "FlexAttention over a padded dense cache, a length mask"
    else:
        ps = cache.page_size
        k, v = (t.permute(2, 0, 1, 3).reshape(1, t.shape[2], -1, t.shape[3]).contiguous()
                for t in (cache.pages_k, cache.pages_v))  # (1, H_kv, num_pages * page_size, D)
        logical = logical_pages(cache)  # (B, num_pages): each physical page's logical index, -1 if not b's
        mask_mod = lambda b, h, i, j: (logical[b, j // ps] >= 0) & (  # noqa: E731
            logical[b, j // ps] * ps + j % ps <= lens[b] - q_tokens + i)
        blocks = page_blocks(cache, q_tokens)
        mask = BlockMask.from_kv_blocks(*blocks, BLOCK_SIZE=(128, ps), mask_mod=mask_mod,
                                        seq_lengths=(q_tokens, k.shape[2]))
        path = f"FlexAttention over the pages (a block mask of the page table's pages, {ps} tokens each)"
    fn, gqa = compiled_flex(), qs.shape[1] != k.shape[1]
    return Prepared(lambda: fn(qs, k, v, block_mask=mask, enable_gqa=gqa), (qs, k, v), lambda out: out.transpose(1, 2),
                    True, path)


def page_blocks(cache: Cache, q_tokens: int) -> tuple[torch.Tensor, ...]:
    """The pages as a BlockMask's key blocks, one query block: per sequence its partial pages (the
    last ones, where the mask cuts) and its full pages (every token of the step sees all their keys),
    each in the page table's order, as from_kv_blocks takes them: num (B, 1, 1), indices (B, 1, 1, N)."""
    ps, n_pages, device = cache.page_size, cache.pages_k.shape[0], cache.k.device
    pages_per = (cache.lengths.long() + ps - 1) // ps
    full_per = torch.clamp((cache.lengths.long() - q_tokens + 1) // ps, min=0)  # pages wholly before the cut
    slot = torch.arange(n_pages, device=device)[None, :]
    table = torch.zeros(cache.batch, n_pages + cache.page_table.shape[1], dtype=torch.int32, device=device)
    table[:, :cache.page_table.shape[1]] = cache.page_table
    partial = torch.gather(table, 1, torch.clamp(slot + full_per[:, None], max=table.shape[1] - 1))[:, :n_pages]
    full = table[:, :n_pages].clone()
    full[slot >= full_per[:, None]] = 0
    partial[slot >= (pages_per - full_per)[:, None]] = 0
    return ((pages_per - full_per).to(torch.int32)[:, None, None], partial[:, None, None],
            full_per.to(torch.int32)[:, None, None], full[:, None, None])


def logical_pages(cache: Cache) -> torch.Tensor:
    """(B, num_pages) int32: the logical page index each physical page holds for sequence b, or -1."""
    n_pages = cache.pages_k.shape[0]
    out = torch.full((cache.batch, n_pages), -1, dtype=torch.int32, device=cache.k.device)
    pages_per = (cache.lengths.long() + cache.page_size - 1) // cache.page_size
    for b in range(cache.batch):  # B is at most a few hundred: once, before any timing
        out[b, cache.page_table[b, :pages_per[b]].long()] = torch.arange(int(pages_per[b]), dtype=torch.int32,
                                                                        device=out.device)
    return out


def fa4(p, q: torch.Tensor, cache: Cache, gen: torch.Generator) -> Prepared:
    flash_attn_varlen_func = gpu_package("fa4", q.device).flash_attn_varlen_func
    if cache.page_size is None:
        k, v = padded(cache, gen, heads_first=False)  # (B, longest, H_kv, D)
        extra, path = {}, "FlashAttention-4 over a padded dense cache (seqused_k)"
    else:
        k, v, extra = cache.pages_k, cache.pages_v, {"page_table": cache.page_table}
        path = f"FlashAttention-4 over the pages (page_table, {cache.page_size} tokens each)"
    # keyword arguments only: the fourth positional is qv since 4.0.0b9; one split (Hopper has no split-KV)
    call = lambda: flash_attn_varlen_func(q, k, v, seqused_k=cache.lengths, causal=True, num_splits=1,  # noqa: E731
                                          **extra)[0]
    return Prepared(call, (q, k, v), lambda out: out, True, path)


def flashinfer(p, q: torch.Tensor, cache: Cache, gen: torch.Generator) -> Prepared:
    if cache.page_size is None:
        raise Unsupported("flashinfer's batch decode reads a paged cache: give page_size (its contiguous-cache "
                          "kernel takes one sequence)")
    fi = gpu_package("flashinfer", q.device)
    batch, q_tokens, heads, dim = q.shape
    indptr, indices, last_len = flashinfer_pages(cache)
    workspace = torch.zeros(FLASHINFER_WORKSPACE_BYTES, dtype=torch.uint8, device=q.device)
    planned = dict(q_data_type=q.dtype, kv_data_type=cache.pages_k.dtype)
    if q_tokens == 1:
        wrapper = fi.BatchDecodeWithPagedKVCacheWrapper(workspace, "NHD", use_tensor_cores=p.tensor_cores)
        wrapper.plan(indptr, indices, last_len, heads, cache.pages_k.shape[2], dim, cache.page_size, **planned)
        path = f"FlashInfer BatchDecodeWithPagedKVCacheWrapper (use_tensor_cores={p.tensor_cores})"
    else:  # a speculative step: its causal mask is aligned to the bottom right
        wrapper = fi.BatchPrefillWithPagedKVCacheWrapper(workspace, "NHD")
        qo_indptr = torch.arange(0, (batch + 1) * q_tokens, q_tokens, dtype=torch.int32)
        wrapper.plan(qo_indptr, indptr, indices, last_len, heads, cache.pages_k.shape[2], dim, cache.page_size,
                     causal=True, **planned)
        path = "FlashInfer BatchPrefillWithPagedKVCacheWrapper (causal)"
    flat = q.reshape(batch * q_tokens, heads, dim)
    out = torch.empty_like(flat)
    torch.cuda.synchronize(q.device)
    pages = (cache.pages_k, cache.pages_v)
    return Prepared(lambda: wrapper.run(flat, pages, out=out), (flat, *pages),
                    lambda o: o.view(batch, q_tokens, heads, dim), True, path)


def flashinfer_pages(cache: Cache) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FlashInfer's page description: indptr (B + 1,) and last_page_len (B,) on the CPU (so plan()
    copies nothing back), indices (total pages,) on the device, all int32."""
    lens = cache.lengths.long().cpu()
    pages_per = (lens + cache.page_size - 1) // cache.page_size
    indptr = torch.zeros(cache.batch + 1, dtype=torch.int32)
    indptr[1:] = pages_per.cumsum(0)
    table = cache.page_table.cpu()
    indices = torch.cat([table[b, :pages_per[b]] for b in range(cache.batch)]).to(cache.k.device)
    return indptr, indices, (lens - (pages_per - 1) * cache.page_size).to(torch.int32)


def candidate(p, q: torch.Tensor, cache: Cache, gen: torch.Generator) -> Prepared:
    fn = import_candidate(p.candidate)
    if cache.page_size is None:
        k, v = padded(cache, gen, heads_first=False)
        table, path = None, f"candidate {p.candidate} over a padded dense cache"
    else:
        k, v, table = cache.pages_k, cache.pages_v, cache.page_table
        path = f"candidate {p.candidate} over the pages"
    return Prepared(lambda: fn(q, k, v, cache.lengths, table), (q, k, v), lambda out: out, False, path)


IMPLEMENTATIONS = {"default": sdpa, "math": sdpa, "flash": sdpa, "efficient": sdpa, "cudnn": sdpa, "flex": flex,
                   "fa4": fa4, "flashinfer": flashinfer}
