"""Job `device_ceilings`: what this device can really do, measured once per device per run.

Dense matmul TFLOPS per dtype (the ceiling attention's matmuls are bound by) and
device-to-device copy bandwidth (bytes read + bytes written). Benchmark rows are put against
their own device's measured ceiling (`pct_of_peak` in the report) rather than a datasheet.
"""
from __future__ import annotations

import torch

from base.point import JobSpec
from base.settings import TimingConfig
from jobs.gpu_state import GpuMonitor
from jobs.spec import Outcome
from jobs.timing import summarize, time_callable

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def sizes(device: torch.device) -> tuple[int, int]:
    """(matmul n, copy bytes): big enough to fill an H100, small enough for a 2-core CPU."""
    return (8192, 2**30) if device.type == "cuda" else (512, 2**26)


def median_ms(fn, device: torch.device, timing: TimingConfig) -> float:
    with GpuMonitor(device) as monitor:  # timed by the run's protocol, like every benchmark point
        return summarize(time_callable(fn, device, timing, monitor=monitor).times_ms).median_ms


def matmul_tflops(dtype: torch.dtype, n: int, device: torch.device, timing: TimingConfig) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)  # (n, n), random: never time on zeros
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / (median_ms(lambda: a @ b, device, timing) * 1e-3) / 1e12


def copy_gbs(nbytes: int, device: torch.device, timing: TimingConfig) -> float:
    src = torch.randn(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    return 2 * nbytes / (median_ms(lambda: dst.copy_(src), device, timing) * 1e-3) / 1e9  # read + write


def device_ceilings(spec: JobSpec, device: torch.device, timing: TimingConfig) -> Outcome:
    n, nbytes = sizes(device)
    metrics = {f"ceiling_{name}_tflops": matmul_tflops(dtype, n, device, timing) for name, dtype in DTYPES.items()}
    metrics["ceiling_copy_gbs"] = copy_gbs(nbytes, device, timing)
    return Outcome(metrics=metrics)
