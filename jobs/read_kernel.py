"""A kernel that only reads: the device's read bandwidth, the ceiling decode attention is held to.

A device-to-device copy reads and writes; `torch.sum` is a library reduction tuned for other
things. Neither bounds a kernel that mostly reads (an H200 copy moved 4,271 GB/s read + write while
SDPA's decode moved 4,580 GB/s). This Triton kernel reads a buffer once with wide vector loads,
from enough programs to keep every SM busy, and writes one float per program. Two grids: one
program per slice of the buffer (many waves), and a persistent one (a few programs per SM, each
striding over the buffer, so no wave has a tail). Its sum is checked against torch's before it is
timed; the fastest of the launch shapes is the ceiling (benchmarks/read_kernel_shapes.py prints each).
"""
from __future__ import annotations

from typing import Callable

import torch

# (grid, elements per block, n, warps): 16 or 32 fp32 per thread per block = 64-128 B.
# "sliced": n blocks per program; "persistent": n programs per SM.
CONFIGS = (("sliced", 4096, 8, 8), ("sliced", 8192, 4, 8), ("sliced", 4096, 16, 4), ("sliced", 16384, 2, 16),
           ("persistent", 4096, 8, 4), ("persistent", 8192, 4, 8), ("persistent", 8192, 8, 8),
           ("persistent", 16384, 2, 16))


def build_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def read_sum(x_ptr, out_ptr, n, BLOCK: tl.constexpr, PER_PROGRAM: tl.constexpr):
        start = tl.program_id(0).to(tl.int64) * BLOCK * PER_PROGRAM
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for i in range(PER_PROGRAM):
            offsets = start + i * BLOCK + tl.arange(0, BLOCK)
            acc += tl.load(x_ptr + offsets, mask=offsets < n, other=0.0, eviction_policy="evict_first")
        tl.store(out_ptr + tl.program_id(0), tl.sum(acc, axis=0))

    @triton.jit
    def read_sum_persistent(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for block in range(tl.program_id(0), tl.cdiv(n, BLOCK), tl.num_programs(0)):
            offsets = block.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
            acc += tl.load(x_ptr + offsets, mask=offsets < n, other=0.0, eviction_policy="evict_first")
        tl.store(out_ptr + tl.program_id(0), tl.sum(acc, axis=0))

    return triton, {"sliced": read_sum, "persistent": read_sum_persistent}


def launcher(kernels: dict, triton, x: torch.Tensor, config: tuple) -> tuple[Callable[[], None], torch.Tensor]:
    grid, block, n, warps = config
    if grid == "persistent":
        programs = n * torch.cuda.get_device_properties(x.device).multi_processor_count
        out = torch.empty(programs, device=x.device, dtype=torch.float32)
        return (lambda: kernels[grid][(programs,)](x, out, x.numel(), BLOCK=block, num_warps=warps)), out
    programs = triton.cdiv(x.numel(), block * n)
    out = torch.empty(programs, device=x.device, dtype=torch.float32)
    return (lambda: kernels[grid][(programs,)](x, out, x.numel(), BLOCK=block, PER_PROGRAM=n,
                                               num_warps=warps)), out


def read_calls(nbytes: int, device: torch.device) -> list[Callable[[], None]]:
    """One call per launch shape, each reading `nbytes` once, checked; none without CUDA or Triton."""
    if device.type != "cuda":
        return []
    try:
        triton, kernels = build_kernel()
    except ImportError:
        return []
    x = torch.rand(nbytes // 4, device=device, dtype=torch.float32)  # (n,), random: never time on zeros
    want = x.sum(dtype=torch.float64).item()
    calls = []
    for config in CONFIGS:
        call, out = launcher(kernels, triton, x, config)
        call()
        got = out.sum(dtype=torch.float64).item()
        if abs(got - want) > 1e-4 * abs(want):
            raise RuntimeError(f"the read kernel {config} summed {got}, torch {want}: it did not read every element")
        calls.append(call)
    return calls
