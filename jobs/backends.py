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
import importlib.metadata
import warnings
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from jobs.contract import Unsupported
from jobs.dense import DIRECT_BACKENDS, DenseParams
from jobs.masks import sdpa_mask_args

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


def layout(p: DenseParams) -> str:
    """`bshd` for FlashAttention-4's own layout, else SDPA's `bhsd`."""
    return "bshd" if p.backend == "fa4" and not p.candidate else "bhsd"


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


def sdpa_call(p: DenseParams, q: torch.Tensor, k: torch.Tensor, fn=F.scaled_dot_product_attention) -> Attention:
    """SDPA (or a candidate with its signature) with the point's mask, built once here;
    q (B, H, Sq, D), k (B, Hkv, Skv, D)."""
    gqa = {"enable_gqa": True} if p.kv_heads != p.heads else {}
    kwargs = sdpa_mask_args(p.causal, p.mask, q, k) | gqa
    return lambda q, k, v: fn(q, k, v, **kwargs)


def fa4_call(p: DenseParams, q: torch.Tensor) -> Attention:
    """flash_attn.cute.flash_attn_func on q (B, Sq, H, D), k/v (B, Skv, Hkv, D): GQA natively; its
    causal mask is aligned to the bottom right, so PyTorch's top-left one only where Sq == Skv."""
    if q.device.type != "cuda":
        raise Unsupported("fa4 runs on NVIDIA GPUs only")
    if p.causal and p.mask in ("bool", "additive"):
        raise Unsupported(f"fa4 takes no dense mask ({p.mask}); use mask is_causal or lower_right")
    if p.causal and p.mask == "is_causal" and p.seq_len != p.kv_len:
        raise Unsupported("fa4's causal mask is aligned to the bottom right; PyTorch's is_causal (top left) "
                          "equals it only when seq_len == kv_len: use mask lower_right")
    try:
        from flash_attn.cute import flash_attn_func
    except ImportError as err:
        raise Unsupported(f"fa4 needs FlashAttention-4: {INSTALL['fa4']} ({err})") from None
    return lambda q, k, v: flash_attn_func(q, k, v, causal=p.causal)[0]  # returns (out, lse)


def compiled_flex() -> Callable:
    """flex_attention compiled for this point alone: static shapes, nothing carried over from the
    points before it. One compiled function shared by all points would recompile per shape until
    dynamo's recompile limit (8), then silently run flex eagerly, and its kernels would depend on
    the order of the points."""
    from torch.nn.attention.flex_attention import flex_attention
    torch.compiler.reset()
    compiled = torch.compile(flex_attention, dynamic=False)

    def call(*args, **kwargs):
        try:
            return compiled(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - only the compiler's own failures are turned, the rest re-raised
            if not type(err).__module__.startswith(("torch._inductor", "torch._dynamo")):
                raise
            why = f"{type(err).__name__}: {compile_cause(err)}"
            raise Unsupported(f"flex could not compile this point ({why})") from None
    return call


def compile_cause(err: BaseException) -> str:
    """The line of a compiler's failure that names its cause (the last that mentions an error)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    named = [line for line in lines if "Error" in line or "error:" in line]
    return (named or lines or [""])[-1][:300]


def flex_call(p: DenseParams, q: torch.Tensor) -> Attention:
    """flex_attention, compiled, with the causal BlockMask (top left, or bottom right for
    lower_right) built here, once per point; GQA through enable_gqa."""
    try:
        from torch.nn.attention.flex_attention import create_block_mask
    except ImportError as err:
        raise Unsupported(f"flex needs {INSTALL['flex']} ({err})") from None
    if p.causal and p.mask in ("bool", "additive"):
        raise Unsupported(f"flex expresses masks as a mask_mod, not SDPA's dense {p.mask} mask; "
                          "use mask is_causal or lower_right")
    block_mask = None
    if p.causal:
        offset = p.kv_len - p.seq_len if p.mask == "lower_right" else 0
        block_mask = create_block_mask(lambda b, h, i, j: j <= i + offset, None, None, p.seq_len, p.kv_len,
                                       device=q.device)
    flex, gqa = compiled_flex(), p.kv_heads != p.heads

    def call(q, k, v):
        try:
            return flex(q, k, v, block_mask=block_mask, enable_gqa=gqa)
        except NotImplementedError as err:  # e.g. no backward on the CPU
            raise Unsupported(f"flex: {str(err).splitlines()[0]}") from None
    return call


def native_call(p: DenseParams, q: torch.Tensor, k: torch.Tensor) -> Attention:
    """fn(q, k, v) -> out for the point's implementation, in its own layout (`layout(p)`)."""
    if p.candidate:
        return sdpa_call(p, q, k, import_candidate(p.candidate))
    if p.backend == "fa4":
        return fa4_call(p, q)
    if p.backend == "flex":
        return flex_call(p, q)
    return sdpa_call(p, q, k)


def attention_call(p: DenseParams, q: torch.Tensor, k: torch.Tensor) -> Attention:
    """fn(q, k, v) -> out on (B, H, S, D) tensors whatever the implementation's layout: the
    transposes around a bshd kernel are for checking it, never for timing it."""
    if layout(p) == "bhsd":
        return native_call(p, q, k)
    fn = native_call(p, q.transpose(1, 2), k.transpose(1, 2))
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
    except ValueError as err:
        if impl != "FA4" or "values to unpack" not in str(err):
            raise
        raise Unsupported(fa4_pair_reason(err)) from None
    finally:
        restore_flash_attention_impl()


def fa4_pair_reason(err: ValueError) -> str:
    """Why SDPA cannot drive the installed FlashAttention-4: torch's wrapper (torch < 2.14) unpacks
    two values from flash_attn.cute's _flash_attn_fwd, which returns more since 4.0.0b19."""
    return (f"SDPA's FA4 path cannot drive this pair: torch {torch.__version__} with flash-attn-4 "
            f"{package_version('flash-attn-4')} ({err}); pairs that run: torch < 2.14 with flash-attn-4 <= 4.0.0b18, "
            "torch >= 2.14 with any (docs/backends.md); fa4 itself runs flash_attn.cute directly")


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


@contextmanager
def forced(p: DenseParams, device: torch.device) -> Iterator[None]:
    """The context to make the point's calls in: the forced SDPA backend and flash implementation,
    torch's "no kernel" error turned into `Unsupported`. Candidates and direct kernels run as they are."""
    if p.candidate or p.backend in DIRECT_BACKENDS:
        yield
        return
    with sdpa_forced(p.backend, p.flash_impl, device):
        yield


@contextmanager
def sdpa_forced(backend: str, impl: str, device: torch.device) -> Iterator[None]:
    """SDPA `backend` forced (`default`: nothing forced) with `impl` behind its flash backend."""
    member = SDPA_MEMBERS[backend]
    if backend != "default" and member is None:
        raise Unsupported(f"this torch ({torch.__version__}) has no SDPA backend {backend}")
    with flash_impl(impl), (nullcontext() if member is None else sdpa_kernel(member)), \
            unsupported_as_exception(f"{backend} on {device.type}"):
        yield
