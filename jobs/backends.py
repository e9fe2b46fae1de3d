"""Attention implementations by name, and how to call one on a point.

SDPA's backends are forced with `sdpa_kernel` (`default` forces nothing: torch's dispatcher
picks, which is what users get out of the box); `flash_impl` swaps the kernel behind SDPA's
flash backend for the job's duration. `fa4` calls FlashAttention-4 (`flash_attn.cute`) directly,
in its own (batch, seq, heads, head_dim) layout; `flex` is `torch.compile(flex_attention)` with
the causal BlockMask built once per point. A missing package or a point an implementation
cannot take is `Unsupported`, with the library's reason or what to install.
"""
from __future__ import annotations

import importlib
import warnings
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from base.point import JobSpec
from base.vocab import DIRECT_BACKENDS
from jobs.masks import sdpa_mask_args
from jobs.spec import Unsupported

Attention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

SDPA_MEMBERS: dict[str, SDPBackend | None] = {
    "default": None,
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "overrideable": getattr(SDPBackend, "OVERRIDEABLE", None),  # torch >= 2.6
}
INSTALL = {"fa4": "pip install flash-attn-4 (its flash_attn.cute module; NVIDIA Hopper or Blackwell GPUs)",
           "flex": "torch >= 2.5 (torch.nn.attention.flex_attention)"}
# What torch says when the forced backend can't take the shape: CUDA names the kernel and warns
# why; the CPU (no efficient/cudnn kernels) only says nothing viable is left.
NO_KERNEL_MARKERS = ("No available kernel", "No viable backend")


def layout(spec: JobSpec) -> str:
    """`bshd` for FlashAttention-4's own layout, else SDPA's `bhsd`."""
    return "bshd" if spec.backend == "fa4" and not spec.candidate else "bhsd"


def is_oom(err: BaseException) -> bool:
    """CUDA OOM, or the CPU allocator failing to get memory (torch raises RuntimeError there)."""
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "can't allocate memory" in str(err))


class CandidateError(Exception):
    """A user's candidate kernel could not be imported."""


def import_candidate(path: str) -> Attention:
    """`package.module:function` -> the function (same signature as F.scaled_dot_product_attention)."""
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise CandidateError(f"candidate {path!r} could not be imported: {type(err).__name__}: {err}") from None


def sdpa_call(spec: JobSpec, q: torch.Tensor, k: torch.Tensor, fn=F.scaled_dot_product_attention) -> Attention:
    """SDPA (or a candidate with its signature) with the point's mask, built once here;
    q (B, H, Sq, D), k (B, Hkv, Skv, D)."""
    gqa = {"enable_gqa": True} if spec.kv_heads != spec.heads else {}
    kwargs = sdpa_mask_args(spec.causal, spec.mask, q, k) | gqa
    return lambda q, k, v: fn(q, k, v, **kwargs)


def fa4_call(spec: JobSpec, q: torch.Tensor) -> Attention:
    """flash_attn.cute.flash_attn_func on q (B, Sq, H, D), k/v (B, Skv, Hkv, D): GQA natively; its
    causal mask is aligned to the bottom right, so PyTorch's top-left one only where Sq == Skv."""
    if q.device.type != "cuda":
        raise Unsupported("fa4 runs on NVIDIA GPUs only")
    if spec.causal and spec.mask in ("bool", "additive"):
        raise Unsupported(f"fa4 takes no dense mask ({spec.mask}); use mask is_causal or lower_right")
    if spec.causal and spec.mask == "is_causal" and spec.seq_len != spec.kv_len:
        raise Unsupported("fa4's causal mask is aligned to the bottom right; PyTorch's is_causal (top left) "
                          "equals it only when seq_len == kv_len: use mask lower_right")
    try:
        from flash_attn.cute import flash_attn_func
    except ImportError as err:
        raise Unsupported(f"fa4 needs FlashAttention-4: {INSTALL['fa4']} ({err})") from None
    return lambda q, k, v: flash_attn_func(q, k, v, causal=spec.causal)[0]  # returns (out, lse)


def compiled_flex() -> Callable:
    """flex_attention compiled for this point alone: static shapes, nothing carried over from the
    points before it. One compiled function shared by all points would recompile per shape until
    dynamo's recompile limit (8), then silently run flex eagerly, and its kernels would depend on
    the order of the points."""
    from torch.nn.attention.flex_attention import flex_attention
    torch.compiler.reset()
    return torch.compile(flex_attention, dynamic=False)


def flex_call(spec: JobSpec, q: torch.Tensor) -> Attention:
    """flex_attention, compiled, with the causal BlockMask (top left, or bottom right for
    lower_right) built here, once per point; GQA through enable_gqa."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask
    except ImportError as err:
        raise Unsupported(f"flex needs {INSTALL['flex']} ({err})") from None
    if spec.causal and spec.mask in ("bool", "additive"):
        raise Unsupported(f"flex expresses masks as a mask_mod, not SDPA's dense {spec.mask} mask; "
                          "use mask is_causal or lower_right")
    block_mask = None
    if spec.causal:
        offset = spec.kv_len - spec.seq_len if spec.mask == "lower_right" else 0
        block_mask = create_block_mask(lambda b, h, i, j: j <= i + offset, None, None, spec.seq_len, spec.kv_len,
                                       device=q.device)
    flex, gqa = compiled_flex(), spec.kv_heads != spec.heads

    def call(q, k, v):
        try:
            return flex(q, k, v, block_mask=block_mask, enable_gqa=gqa)
        except NotImplementedError as err:  # e.g. no backward on the CPU
            raise Unsupported(f"flex: {str(err).splitlines()[0]}") from None
    return call


def native_call(spec: JobSpec, q: torch.Tensor, k: torch.Tensor) -> Attention:
    """fn(q, k, v) -> out for the point's implementation, in its own layout (`layout(spec)`)."""
    if spec.candidate:
        return sdpa_call(spec, q, k, import_candidate(spec.candidate))
    if spec.backend == "fa4":
        return fa4_call(spec, q)
    if spec.backend == "flex":
        return flex_call(spec, q)
    return sdpa_call(spec, q, k)


def attention_call(spec: JobSpec, q: torch.Tensor, k: torch.Tensor) -> Attention:
    """fn(q, k, v) -> out on (B, H, S, D) tensors whatever the implementation's layout: the
    transposes around a bshd kernel are for checking it, never for timing it."""
    if layout(spec) == "bhsd":
        return native_call(spec, q, k)
    fn = native_call(spec, q.transpose(1, 2), k.transpose(1, 2))
    return lambda q, k, v: fn(*(t.transpose(1, 2).contiguous() for t in (q, k, v))).transpose(1, 2)


@contextmanager
def unsupported_as_exception(what: str) -> Iterator[None]:
    """Turn torch's "no kernel for this" error into `Unsupported`, carrying the warnings that say why."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except RuntimeError as err:
            if not any(marker in str(err) for marker in NO_KERNEL_MARKERS):
                raise
            reasons = [str(w.message).strip() for w in caught] + [str(err).strip()]
            raise Unsupported(f"{what} has no kernel for this input: " + "; ".join(dict.fromkeys(reasons))) from None
    for w in caught:  # warnings unrelated to kernel choice are not ours to hide
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


@contextmanager
def flash_impl(impl: str) -> Iterator[None]:
    """SDPA's flash backend runs `impl` inside, torch's own FlashAttention-2 again after: activation
    is process-wide, so the job must leave the worker as it found it (the worker checks)."""
    if impl == "builtin":
        yield
        return
    try:
        from torch.nn.attention import activate_flash_attention_impl, restore_flash_attention_impl
    except ImportError:
        raise Unsupported(f"flash_impl {impl} needs torch >= 2.10 (activate_flash_attention_impl); "
                          f"this is torch {torch.__version__}") from None
    try:
        activate_flash_attention_impl(impl)
    except Exception as err:  # noqa: BLE001 - whatever the provider raises is the reason it cannot run
        raise Unsupported(f"flash_impl {impl} could not be activated: {type(err).__name__}: {err}") from None
    try:
        yield
    finally:
        restore_flash_attention_impl()


@contextmanager
def forced(spec: JobSpec, device: torch.device) -> Iterator[None]:
    """The context to make the point's calls in: the forced SDPA backend and flash implementation,
    torch's "no kernel" error turned into `Unsupported`. Candidates and direct kernels run as they are."""
    if spec.candidate or spec.backend in DIRECT_BACKENDS:
        yield
        return
    member = SDPA_MEMBERS[spec.backend]
    if spec.backend != "default" and member is None:
        raise Unsupported(f"this torch ({torch.__version__}) has no SDPA backend {spec.backend}")
    with flash_impl(spec.flash_impl), (nullcontext() if member is None else sdpa_kernel(member)), \
            unsupported_as_exception(f"{spec.backend} on {device.type}"):
        yield
