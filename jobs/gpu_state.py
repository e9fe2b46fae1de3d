"""The GPU's clock, power and power-cap state during a measurement, read through NVML.

A GPU at its power limit does not run at one speed (docs/results/2026-11-26-h200-adaptive-timing/):
a heavy kernel trips the power cap within 0.1 s of starting, runs at a plateau clock until NVML's
one-second mean power reaches the limit, then the cap cuts the clock and from then on cycles it
about once a second. `GpuMonitor` reads the state every 20 ms on a thread of its own while a
point is warmed up and timed: the adaptive timing protocol (jobs/settle.py) decides from it when
the state has settled and how long a window must be, and every GPU row says what clock, power and
temperature it ran at and which throttle reasons were active.
"""
from __future__ import annotations

import os
import threading
import time
from typing import TypedDict

import torch

from jobs.settle import Reading, cooled

try:
    import pynvml  # nvidia-ml-py: present where the NVIDIA driver is; optional elsewhere
except ImportError:
    pynvml = None

THROTTLE_REASONS = {0x1: "idle", 0x2: "app_clocks", 0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x10: "sync_boost",
                    0x20: "sw_thermal", 0x40: "hw_thermal", 0x80: "hw_power_brake", 0x100: "display_clock"}
SW_POWER_CAP = 0x4
PERIOD_S = 0.02  # NVML refreshes clock and power every 100 ms on an H100/H200; the cap counter every ~6 ms


class GpuStateMetrics(TypedDict, total=False):
    """The GPU during a point's timed reps (GpuMonitor.summary)."""
    sm_clock_mhz: float  # mean SM clock
    sm_clock_min_mhz: float
    power_mean_w: float  # mean board power
    gpu_temp_max_c: int
    throttle_reasons: str  # every throttle reason seen, comma-separated
    gpu_other_processes: int  # other compute processes on the card


def reason_names(bits: int) -> str:
    return ",".join(name for bit, name in THROTTLE_REASONS.items() if bits & bit) or "none"


class GpuMonitor(threading.Thread):
    """Reads the GPU every 20 ms between `start()` and `stop()`; `usable` is False (and nothing
    is read) without NVML or a GPU. The cap is the power-cap violation counter where the driver
    keeps one (it counts every nanosecond capped, so a short cap between reads is not missed),
    else the throttle-reason bit."""

    def __init__(self, device: torch.device):
        super().__init__(daemon=True)
        self.handle, self.readings, self.halt = None, [], threading.Event()
        self.limit_w, self.max_mhz, self.uuid, self.last_capped_ns = 0.0, 0, "", None
        if pynvml is None or device.type != "cuda":
            return
        try:
            pynvml.nvmlInit()  # NVML numbers GPUs on the node; the UUID finds ours whatever CUDA_VISIBLE_DEVICES says
            self.uuid = f"GPU-{torch.cuda.get_device_properties(device).uuid}"
            self.handle = pynvml.nvmlDeviceGetHandleByUUID(self.uuid)
            self.limit_w = pynvml.nvmlDeviceGetEnforcedPowerLimit(self.handle) / 1e3
            self.max_mhz = pynvml.nvmlDeviceGetMaxClockInfo(self.handle, pynvml.NVML_CLOCK_SM)
        except pynvml.NVMLError:
            self.handle = None

    @property
    def usable(self) -> bool:
        return self.handle is not None

    def start(self) -> None:
        if self.usable:
            super().start()

    def stop(self) -> None:
        if self.is_alive():
            self.halt.set()
            self.join()

    def __enter__(self) -> GpuMonitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self) -> None:
        while not self.halt.wait(PERIOD_S):
            self.readings.append(self.read())

    def read(self) -> Reading:
        h = self.handle
        bits = pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(h)
        return Reading(time.perf_counter(), pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
                       pynvml.nvmlDeviceGetPowerUsage(h) / 1e3, self.instant_w(), self.capped_since_last(bits),
                       pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU), bits)

    def instant_w(self) -> float | None:
        try:  # a field of drivers 530 and later
            value = pynvml.nvmlDeviceGetFieldValues(self.handle, [pynvml.NVML_FI_DEV_POWER_INSTANT])[0]
        except pynvml.NVMLError:
            return None
        return value.value.uiVal / 1e3 if value.nvmlReturn == pynvml.NVML_SUCCESS else None

    def capped_since_last(self, bits: int) -> bool:
        try:
            ns = pynvml.nvmlDeviceGetViolationStatus(self.handle, pynvml.NVML_PERF_POLICY_POWER).violationTime
        except pynvml.NVMLError:
            return bool(bits & SW_POWER_CAP)
        capped = self.last_capped_ns is not None and ns > self.last_capped_ns
        self.last_capped_ns = ns
        return capped or bool(bits & SW_POWER_CAP)

    def other_processes(self) -> int:
        """Compute processes on this GPU other than this one: anything sharing the card."""
        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(self.handle)
        return sum(p.pid != os.getpid() for p in procs)

    def between(self, t0: float, t1: float = float("inf")) -> list[Reading]:
        return [r for r in list(self.readings) if t0 <= r.t <= t1]

    def reading_after(self, t: float) -> Reading | None:
        """The first reading made after `t`, waiting for it (at most a few periods)."""
        deadline = time.perf_counter() + 5 * PERIOD_S
        while time.perf_counter() < deadline:
            later = self.between(t)
            if later:
                return later[0]
            time.sleep(PERIOD_S / 4)
        return None

    def wait_cooled(self, max_s: float) -> tuple[bool, float]:
        """Wait until the card is back at its maximum clock with its power well below the limit
        (settle.cooled), at most `max_s`; returns whether it got there and the seconds waited."""
        t0 = time.perf_counter()
        while True:
            reading = self.reading_after(time.perf_counter())
            waited = time.perf_counter() - t0
            if reading is not None and cooled(reading, self.limit_w, self.max_mhz):
                return True, waited
            if waited >= max_s or reading is None:
                return False, waited

    def summary(self, t0: float, t1: float = float("inf")) -> dict[str, float | int | str | None]:
        """The state during [t0, t1] (the timed reps): mean and lowest SM clock, mean power, the
        hottest temperature, every throttle reason seen, and other processes on the card."""
        seen = self.between(t0, t1) or self.between(0.0, t1)[-1:]  # a window shorter than a read: the last one
        if not seen:
            return {}
        bits = 0
        for r in seen:
            bits |= r.bits | (SW_POWER_CAP if r.capped else 0)
        n = len(seen)
        return {"sm_clock_mhz": sum(r.sm_mhz for r in seen) / n, "sm_clock_min_mhz": min(r.sm_mhz for r in seen),
                "power_mean_w": sum(r.power_w for r in seen) / n, "gpu_temp_max_c": max(r.temp_c for r in seen),
                "throttle_reasons": reason_names(bits & ~0x1),  # idle between batches is not a throttle
                "gpu_other_processes": self.other_processes()}
