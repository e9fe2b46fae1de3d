"""Variable-length prefill implementations by name, each over the packed batch in its own layout,
with what it plans or builds done here, before any timing.

The batch is packed: sequence b's tokens at rows cu[b]:cu[b+1] of q (tokens, H, D) and k, v
(tokens, H_kv, D), each attending causally to its own. SDPA's backends take it padded to the longest
sequence, (B, H, longest, D), with `is_causal` (right padding: a real query row never sees a
padded key); torch's `varlen_attn`, FlashAttention-4 (`flash_attn_varlen_func`) and FlashInfer's
ragged prefill take it packed with the offsets; FlexAttention takes it packed as one sequence with
a block mask of the documents (built from the offsets). A candidate is called
`fn(q, k, v, cu_seqlens, max_seqlen)` on the packed tensors and returns (tokens, H, D).
"""
from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F

from jobs.backends import compiled_flex, import_candidate, sdpa_forced
from jobs.contract import Unsupported
from jobs.decode_backends import FLASHINFER_WORKSPACE_BYTES, Prepared, gpu_package
from jobs.kv_cache import Cache, token_index

FLEX_BLOCK = 128


def pad(packed: torch.Tensor, cache: Cache) -> torch.Tensor:
    """(tokens, H, D) -> (B, H, longest, D), zeros past each end (no real query row reads them)."""
    seq, pos = token_index(cache)
    out = packed.new_zeros(cache.batch, cache.longest, *packed.shape[1:])
    out[seq, pos] = packed
    return out.transpose(1, 2).contiguous()


def sdpa(p, q: torch.Tensor, cache: Cache) -> Prepared:
    qs, k, v = pad(q, cache), pad(cache.k, cache), pad(cache.v, cache)
    seq, pos = token_index(cache)
    gqa = qs.shape[1] != k.shape[1]
    return Prepared(lambda: F.scaled_dot_product_attention(qs, k, v, is_causal=True, enable_gqa=gqa), (qs, k, v),
                    lambda out: out.transpose(1, 2)[seq, pos], False,
                    f"SDPA {p.backend} over the batch padded to its longest sequence, is_causal",
                    lambda: sdpa_forced(p.backend, "builtin", q.device))


def varlen(p, q: torch.Tensor, cache: Cache) -> Prepared:
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        raise Unsupported(f"this torch ({torch.__version__}) has no torch.nn.attention.varlen.varlen_attn") from None
    if q.device.type != "cuda":
        raise Unsupported("varlen_attn runs on CUDA only (torch's flash kernel)")
    gqa = {"enable_gqa": True} if "enable_gqa" in inspect.signature(varlen_attn).parameters else {}
    cu, longest = cache.offsets, cache.longest
    call = lambda: varlen_attn(q, cache.k, cache.v, cu, cu, longest, longest, window_size=(-1, 0), **gqa)  # noqa: E731
    return Prepared(call, (q, cache.k, cache.v), lambda out: out, False,
                    "torch varlen_attn over the packed batch, window (-1, 0): causal")


def fa4(p, q: torch.Tensor, cache: Cache) -> Prepared:
    flash_attn_varlen_func = gpu_package("fa4", q.device).flash_attn_varlen_func
    cu, longest = cache.offsets, cache.longest
    call = lambda: flash_attn_varlen_func(q, cache.k, cache.v, cu_seqlens_q=cu, cu_seqlens_k=cu,  # noqa: E731
                                          max_seqlen_q=longest, max_seqlen_k=longest, causal=True)[0]
    return Prepared(call, (q, cache.k, cache.v), lambda out: out, True,
                    "FlashAttention-4 flash_attn_varlen_func over the packed batch")


def flashinfer(p, q: torch.Tensor, cache: Cache) -> Prepared:
    fi = gpu_package("flashinfer", q.device)
    workspace = torch.zeros(FLASHINFER_WORKSPACE_BYTES, dtype=torch.uint8, device=q.device)
    wrapper = fi.BatchPrefillWithRaggedKVCacheWrapper(workspace, "NHD")
    cu = cache.offsets.cpu()
    wrapper.plan(cu, cu, q.shape[1], cache.k.shape[1], q.shape[2], causal=True, q_data_type=q.dtype)
    out = torch.empty_like(q)
    return Prepared(lambda: wrapper.run(q, cache.k, cache.v, out=out), (q, cache.k, cache.v), lambda o: o, True,
                    "FlashInfer BatchPrefillWithRaggedKVCacheWrapper (causal)")


def document_blocks(cache: Cache, block: int) -> tuple[torch.Tensor, ...]:
    """A causal document mask as BlockMask blocks over the packed tokens: per query block, its
    partial and full key blocks (num (1, 1, QB), indices (1, 1, QB, KB)) as from_kv_blocks takes them."""
    seq, _ = token_index(cache)
    total, device = len(seq), seq.device
    n = (total + block - 1) // block
    starts = torch.arange(n, device=device) * block
    first_doc, last_doc = seq[starts], seq[torch.clamp(starts + block - 1, max=total - 1)]
    qb, kb = torch.arange(n, device=device)[:, None], torch.arange(n, device=device)[None, :]
    reach = (kb <= qb) & (last_doc[kb] >= first_doc[qb])  # key blocks a query block's documents reach
    full = reach & (kb < qb) & (first_doc[kb] == last_doc[qb])  # ...wholly inside one document, below the diagonal
    partial = reach & ~full
    return tuple(x for m in (partial, full) for x in (m.sum(-1).to(torch.int32)[None, None],
                 torch.argsort((~m).to(torch.int8), dim=-1, stable=True).to(torch.int32)[None, None]))


def flex(p, q: torch.Tensor, cache: Cache) -> Prepared:
    from torch.nn.attention.flex_attention import BlockMask

    seq, _ = token_index(cache)
    total = len(seq)
    # each token's sequence, padded to whole blocks (-1): the kernel may evaluate the mask past the end
    doc = torch.full((total + FLEX_BLOCK,), -1, dtype=seq.dtype, device=seq.device)
    doc[:total] = seq
    mask_mod = lambda b, h, i, j: (doc[i] == doc[j]) & (j <= i)  # noqa: E731
    num, idx, full_num, full_idx = document_blocks(cache, FLEX_BLOCK)
    mask = BlockMask.from_kv_blocks(num, idx, full_num, full_idx, BLOCK_SIZE=FLEX_BLOCK, mask_mod=mask_mod,
                                    seq_lengths=(total, total))
    qs, k, v = (t.transpose(0, 1)[None].contiguous() for t in (q, cache.k, cache.v))  # (1, H, tokens, D)
    fn, gqa = compiled_flex(), qs.shape[1] != k.shape[1]
    return Prepared(lambda: fn(qs, k, v, block_mask=mask, enable_gqa=gqa), (qs, k, v),
                    lambda out: out[0].transpose(0, 1), True,
                    "FlexAttention over the packed batch as one sequence, a causal document block mask")


def candidate(p, q: torch.Tensor, cache: Cache) -> Prepared:
    fn = import_candidate(p.candidate)
    cu, longest = cache.offsets, cache.longest
    return Prepared(lambda: fn(q, cache.k, cache.v, cu, longest), (q, cache.k, cache.v), lambda out: out, False,
                    f"candidate {p.candidate} over the packed batch")


IMPLEMENTATIONS = {"default": sdpa, "math": sdpa, "flash": sdpa, "efficient": sdpa, "cudnn": sdpa,
                   "varlen": varlen, "fa4": fa4, "flashinfer": flashinfer, "flex": flex}
