"""SDPA backends by name, and running one SDPA call under a forced backend.

`default` forces nothing: torch's dispatcher picks, which is what users get out of the box.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from jobs.spec import Unsupported

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
