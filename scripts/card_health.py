"""Is the lent GPU fit to time on? One second of bf16 matmuls, then NVML's clock and throttle
reasons. Exits 3 when the card is thermally throttled (seen once on 2026-11-25: an H100 at
500-1100 MHz with hw_thermal/sw_thermal set, its SDPA times 2-3x the healthy card's)."""
import sys
import time

import pynvml
import torch

from jobs.gpu_state import reason_names  # run from the repository root (PYTHONPATH)

THERMAL = 0x20 | 0x40 | 0x80  # sw_thermal, hw_thermal, hw_power_brake

pynvml.nvmlInit()
handle = pynvml.nvmlDeviceGetHandleByIndex(0)
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
bits, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < 1.0:
    for _ in range(10):
        a @ a
    torch.cuda.synchronize()
    bits |= pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)
clock = pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM)
temp = pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
print(f"card health: SM {clock} MHz after 1 s of bf16 matmuls, {temp} C, throttle reasons: {reason_names(bits & ~1)}")
sys.exit(3 if bits & THERMAL else 0)
