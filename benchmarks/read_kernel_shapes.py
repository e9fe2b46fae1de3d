"""Each launch shape of the read kernel (jobs/read_kernel.py): its GB/s reading a 4 GiB buffer.

The ceilings job takes the fastest shape as the device's read bandwidth, the ceiling that decode's
GB/s is held to; this prints every shape, so a shape that reads slower than a decode kernel shows.
Times with triton's do_bench (sustained: 1 s warmup, 2 s of reps, its median). Needs a CUDA GPU.

    python3 benchmarks/read_kernel_shapes.py [GIB]      # default 4
"""
from __future__ import annotations

import sys

import torch
from triton.testing import do_bench

from jobs.read_kernel import CONFIGS, read_calls


def main(gib: float) -> None:
    nbytes = int(gib * 2**30)
    calls = read_calls(nbytes, torch.device("cuda:0"))  # each checked against torch's sum first
    print(f"{'grid':>10} {'block':>6} {'n':>3} {'warps':>5} {'ms':>8} {'GB/s':>7}")
    for config, call in zip(CONFIGS, calls):
        ms = do_bench(call, warmup=1000, rep=2000, return_mode="median")
        print(f"{config[0]:>10} {config[1]:>6} {config[2]:>3} {config[3]:>5} {ms:>8.4f} {nbytes / ms / 1e6:>7.0f}",
              flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 4.0)
