"""Which GPU kernels one call really launched, and which SDPA backend that means.

`default` lets torch choose; the only honest way to say what it chose on a given GPU is to
look at the kernels that ran.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.profiler import ProfilerActivity, profile

# Substrings of kernel names, checked in order; the first match names the backend.
KERNEL_MARKERS = (
    ("cudnn", ("cudnn", "sm90_flash", "fmha_cudnn")),
    ("flash", ("flash_fwd", "flash_bwd", "pytorch_flash")),
    ("efficient", ("fmha_cutlass", "efficient_attention", "mem_eff")),
)


def profile_kernels(fn: Callable[[], object], device: torch.device) -> list[str]:
    """Names of the device kernels one call of `fn` launched, in launch order, unique.
    On the CPU it only makes the call (there are no device kernels to name)."""
    if device.type != "cuda":
        fn()
        return []
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize(device)
    names = [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return list(dict.fromkeys(names))


def dispatched_backend(kernel_names: list[str]) -> str:
    """Backend the kernels belong to; `math` when none is a fused attention kernel."""
    if not kernel_names:
        return ""
    lowered = " ".join(kernel_names).lower()
    for backend, markers in KERNEL_MARKERS:
        if any(m in lowered for m in markers):
            return backend
    return "math"
