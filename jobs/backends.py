"""SDPA backends by name, and running one SDPA call under a forced backend.

`default` forces nothing: torch's dispatcher picks, which is what users get out of the box.
"""
from __future__ import annotations

import importlib
import warnings
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from jobs.masks import sdpa_mask_args
from jobs.spec import JobSpec, Unsupported

BACKENDS: dict[str, SDPBackend | None] = {
    "default": None,
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}
# A member a newer torch adds (e.g. OVERRIDEABLE) is usable under its lower-case name at once.
BACKENDS.update({name.lower(): member for name, member in SDPBackend.__members__.items()
                 if member not in BACKENDS.values() and name != "ERROR"})


def backend_context(name: str):
    """Context manager that forces backend `name` (nothing for `default`)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    member = BACKENDS[name]
    return nullcontext() if member is None else sdpa_kernel(member)


# What torch says when the forced backend can't take the shape: CUDA names the kernel and warns
# why; the CPU (no efficient/cudnn kernels) only says nothing viable is left.
NO_KERNEL_MARKERS = ("No available kernel", "No viable backend")


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


def is_oom(err: BaseException) -> bool:
    """CUDA OOM, or the CPU allocator failing to get memory (torch raises RuntimeError there)."""
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "can't allocate memory" in str(err))


class CandidateError(Exception):
    """A user's candidate kernel could not be imported."""


def import_candidate(path: str) -> Callable[..., torch.Tensor]:
    """`package.module:function` -> the function (same signature as F.scaled_dot_product_attention)."""
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise CandidateError(f"candidate {path!r} could not be imported: {type(err).__name__}: {err}") from None


def attention_call(spec: JobSpec, q: torch.Tensor, k: torch.Tensor, builtin: str = ""
                   ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """fn(q, k, v) for the spec: its candidate kernel, or SDPA (`builtin` names SDPA explicitly);
    the mask is built once here. q (B, H, Sq, D), k (B, Hkv, Skv, D). Force a backend with `forced`."""
    kwargs = {**sdpa_mask_args(spec.causal, spec.mask, q, k), **({"enable_gqa": True} if spec.kv_heads != spec.heads else {})}
    fn = import_candidate(spec.candidate) if spec.candidate and not builtin else F.scaled_dot_product_attention
    return lambda q, k, v: fn(q, k, v, **kwargs)


@contextmanager
def forced(spec: JobSpec, device: torch.device, builtin: str = "") -> Iterator[None]:
    """The context to run `attention_call(spec, ..., builtin)` in: the forced backend, with torch's
    "no kernel" error turned into `Unsupported`. A candidate kernel runs as it is."""
    if spec.candidate and not builtin:
        yield
        return
    backend = builtin or spec.backend
    with backend_context(backend), unsupported_as_exception(f"{backend} on {device.type}"):
        yield
