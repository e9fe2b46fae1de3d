"""Which GPU kernels one call really launched, and which SDPA backend that means.

`default` lets torch choose; the only honest way to say what it chose on a given GPU is to
look at the kernels that ran.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

# Substrings of kernel names, checked in order; the first match names the backend. FlashAttention-4
# behind SDPA's flash backend launches CuTe DSL kernels named after its module (seen on an H100:
# kernel_cutlass_kernel_flash_attncuteflash_fwd_sm90FlashAttentionForwardSm90_...).
KERNEL_MARKERS = (
    ("flash[FA4]", ("flash_attncute",)),
    ("cudnn", ("cudnn", "sm90_flash", "fmha_cudnn")),
    ("flash", ("flash_fwd", "flash_bwd", "pytorch_flash")),
    ("efficient", ("fmha_cutlass", "efficient_attention", "mem_eff")),
)


def profile_kernels(fn: Callable[[], object], device: torch.device) -> tuple[object, list[str], float]:
    """What one call of `fn` returned, the names of the device kernels it launched (in launch
    order, unique), and the seconds the device was busy with them. Busy time, not the call's: a
    first call that builds a cuDNN plan leaves the GPU idle for a second, and idle is no warmup.
    On the CPU it only makes the call, and returns its time."""
    if device.type != "cuda":
        t0 = time.perf_counter()
        result = fn()
        return result, [], time.perf_counter() - t0
    # the autograd profiler, not torch.profiler.profile: the latter's start imports torch._inductor
    # (and with it torch._dynamo): 5.4 s of every worker's first job on an H100, against 0.02 s
    # (docs/methods.md)
    with torch.autograd.profiler.profile(use_cpu=False, use_device="cuda", use_kineto=True) as prof:
        result = fn()
        torch.cuda.synchronize(device)
    kernels = [e for e in prof.function_events if e.device_type == torch.autograd.DeviceType.CUDA]
    busy_s = sum(e.time_range.elapsed_us() for e in kernels) / 1e6
    return result, list(dict.fromkeys(e.name for e in kernels)), busy_s


def dispatched_backend(kernel_names: list[str]) -> str:
    """Backend the kernels belong to; `math` when none is a fused attention kernel."""
    if not kernel_names:
        return ""
    lowered = " ".join(kernel_names).lower()
    for backend, markers in KERNEL_MARKERS:
        if any(m in lowered for m in markers):
            return backend
    return "math"
