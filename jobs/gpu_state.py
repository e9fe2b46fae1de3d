"""The GPU's clock and throttle state during a measurement, read through NVML.

An H100 at its 700 W limit runs a heavy attention kernel fast for the first ~0.8 s after idle,
then its power cap cuts the clock and cycles it about once a second
(docs/results/2026-11-25-h100-power-state/): the same kernel times up to 12% faster in a short burst
than sustained. Every GPU
row therefore says what clock, power and temperature it ran at and which throttle reasons were
active, so a number can be read for what it is.
"""
from __future__ import annotations

import os
import threading
import time

import torch

try:
    import pynvml  # nvidia-ml-py: present where the NVIDIA driver is; optional elsewhere
except ImportError:
    pynvml = None

THROTTLE_REASONS = {0x1: "idle", 0x2: "app_clocks", 0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x10: "sync_boost",
                    0x20: "sw_thermal", 0x40: "hw_thermal", 0x80: "hw_power_brake", 0x100: "display_clock"}


def reason_names(bits: int) -> str:
    return ",".join(name for bit, name in THROTTLE_REASONS.items() if bits & bit) or "none"


class GpuMonitor:
    """Samples SM clock, power, temperature and throttle reasons when asked; a no-op without NVML
    or a GPU. At the power limit the clock follows power and temperature, so a row carries all three."""

    def __init__(self, device: torch.device):
        self.handle = None
        self.clocks: list[int] = []
        self.power_mw: list[int] = []
        self.temps_c: list[int] = []
        self.bits = 0
        if pynvml is None or device.type != "cuda":
            return
        try:
            pynvml.nvmlInit()  # NVML numbers GPUs on the node; the UUID finds ours whatever CUDA_VISIBLE_DEVICES says
            self.handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{torch.cuda.get_device_properties(device).uuid}")
        except pynvml.NVMLError:
            self.handle = None

    def sample(self) -> None:
        if self.handle is None:
            return
        self.clocks.append(pynvml.nvmlDeviceGetClockInfo(self.handle, pynvml.NVML_CLOCK_SM))
        self.power_mw.append(pynvml.nvmlDeviceGetPowerUsage(self.handle))
        self.temps_c.append(pynvml.nvmlDeviceGetTemperature(self.handle, pynvml.NVML_TEMPERATURE_GPU))
        self.bits |= pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(self.handle)

    def other_processes(self) -> int:
        """Compute processes on this GPU other than this one: anything sharing the card."""
        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(self.handle)
        return sum(p.pid != os.getpid() for p in procs)

    def summary(self) -> dict[str, float | int | str | None]:
        if self.handle is None or not self.clocks:
            return {}
        return {"sm_clock_mhz": sum(self.clocks) / len(self.clocks), "sm_clock_min_mhz": min(self.clocks),
                "power_mean_w": sum(self.power_mw) / len(self.power_mw) / 1e3, "gpu_temp_max_c": max(self.temps_c),
                "throttle_reasons": reason_names(self.bits & ~0x1),  # idle between batches is not a throttle
                "gpu_other_processes": self.other_processes()}


class NvmlSampler(threading.Thread):
    """(time, SM MHz, watts, throttle-reason bits) of GPU 0 every 2 ms, on a thread of its own:
    what the card did during a measurement, finer than GpuMonitor's once-per-batch reads."""

    def __init__(self, period_s: float = 0.002):
        super().__init__(daemon=True)
        pynvml.nvmlInit()
        self.handle, self.period_s = pynvml.nvmlDeviceGetHandleByIndex(0), period_s
        self.samples: list[tuple[float, int, float, int]] = []
        self.stop = False

    def run(self) -> None:
        h = self.handle
        while not self.stop:
            self.samples.append((time.perf_counter(), pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
                                 pynvml.nvmlDeviceGetPowerUsage(h) / 1e3,
                                 pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(h)))
            time.sleep(self.period_s)

    def window(self, t0: float, t1: float) -> dict:
        """Mean and lowest SM clock, mean power and every throttle reason seen between t0 and t1."""
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        if not s:
            return {}
        bits = 0
        for x in s:
            bits |= x[3]
        return {"sm_mhz_mean": sum(x[1] for x in s) / len(s), "sm_mhz_min": min(x[1] for x in s),
                "power_w_mean": sum(x[2] for x in s) / len(s), "throttle": reason_names(bits & ~0x1), "n": len(s)}
