"""What a GPU's clock, power and power cap do under back-to-back calls of one point (needs CUDA, NVML).

For each case: an idle gap, then back-to-back calls (L2 flush before each, CUDA events around each)
for a few seconds, while a thread reads NVML every 2 ms: SM clock, power (NVML's default reading and
the instant field), the energy counter, the throttle-reason bits and the power-cap violation counter.
Cases run in order, so a case with a short gap shows what a card already at its cap carries over.

    python3 benchmarks/power_trace.py OUT_DIR
Prints, per case and 100 ms window, the mean call time, SM clock, power and the fraction of NVML reads
with the power cap on; writes OUT_DIR/power_trace.json with every sample and every call.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pynvml
import torch

from jobs.dense import DenseParams
from jobs.reps import make_l2_flush
from jobs.sdpa_benchmark import prepared

TUTORIAL = dict(batch=32, heads=32, seq_len=2048, head_dim=224, dtype="float16", inputs="rand", causal=False,
                mode="fwd")
FA_1K = dict(batch=16, heads=16, seq_len=1024, head_dim=128, dtype="bfloat16", inputs="randn", causal=True, mode="fwd")
FA_4K_BWD = dict(FA_1K, batch=4, seq_len=4096, causal=False, mode="fwd_bwd")
# (name, point, backend, idle gap before it in s, seconds of calls)
CASES = [("tutorial cudnn", TUTORIAL, "cudnn", 3.0, 4.0), ("tutorial math", TUTORIAL, "math", 3.0, 3.0),
         ("s1024 causal cudnn", FA_1K, "cudnn", 3.0, 3.0), ("s1024 causal efficient", FA_1K, "efficient", 3.0, 2.0),
         ("s4096 fwd_bwd flash", FA_4K_BWD, "flash", 3.0, 4.0),
         ("then tutorial cudnn, no gap", TUTORIAL, "cudnn", 0.0, 2.0),
         ("then gap 0.3 s", TUTORIAL, "cudnn", 0.3, 2.0), ("then gap 1 s", TUTORIAL, "cudnn", 1.0, 2.0),
         ("then s4096 fwd_bwd cudnn, no gap", FA_4K_BWD, "cudnn", 0.0, 3.0)]


class Trace(threading.Thread):
    def __init__(self, handle):
        super().__init__(daemon=True)
        self.handle, self.rows, self.stop = handle, [], False

    def read(self) -> list:
        h = self.handle
        inst = pynvml.nvmlDeviceGetFieldValues(h, [pynvml.NVML_FI_DEV_POWER_INSTANT])[0]
        viol = pynvml.nvmlDeviceGetViolationStatus(h, pynvml.NVML_PERF_POLICY_POWER)
        return [time.perf_counter(), pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
                pynvml.nvmlDeviceGetPowerUsage(h) / 1e3, inst.value.uiVal / 1e3 if inst.nvmlReturn == 0 else None,
                pynvml.nvmlDeviceGetTotalEnergyConsumption(h), pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(h),
                viol.violationTime]

    def run(self) -> None:
        while not self.stop:
            self.rows.append(self.read())
            time.sleep(0.002)


def calls_for(fn, flush, seconds: float) -> list[tuple[float, float]]:
    """(host time the call started, ms) of back-to-back calls for `seconds`, in batches of ~20 ms."""
    ref = torch.cuda.Event(enable_timing=True)
    ref.record()
    ref.synchronize()
    t_ref, out, end_at = time.perf_counter(), [], time.perf_counter() + seconds
    while time.perf_counter() < end_at:
        events = []
        for _ in range(8):
            flush()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            events.append((s, e))
        torch.cuda.synchronize()
        out += [(t_ref + ref.elapsed_time(s) / 1e3, s.elapsed_time(e)) for s, e in events]
    return out


def windows(calls, trace, t0: float, width: float = 0.1) -> list[str]:
    lines = []
    t, end = t0, calls[-1][0]
    while t < end:
        c = [ms for ts, ms in calls if t <= ts < t + width]
        s = [r for r in trace if t <= r[0] < t + width]
        if c and s:
            cap = sum(bool(r[5] & 0x4) for r in s) / len(s)
            lines.append(f"  {t - t0:5.1f}s  {sum(c) / len(c):8.3f} ms  {sum(r[1] for r in s) / len(s):6.0f} MHz  "
                         f"{sum(r[2] for r in s) / len(s):5.0f} W  cap {cap:4.0%}")
        t += width
    return lines


def main(out: Path) -> None:
    pynvml.nvmlInit()
    device = torch.device("cuda:0")
    handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{torch.cuda.get_device_properties(device).uuid}")
    limit_w = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1e3
    trace, flush, results = Trace(handle), make_l2_flush(device), []
    trace.start()
    for name, point, backend, gap, seconds in CASES:
        with prepared(DenseParams(backend=backend, **point).resolved({}), 0, device) as (fn, _):
            fn()
            torch.cuda.synchronize()
            time.sleep(gap)
            t0 = time.perf_counter()
            calls = calls_for(fn, flush, seconds)
        results.append({"case": name, "gap_s": gap, "t0": t0, "calls": calls})
        print(f"{name} (idle {gap} s before):", *windows(calls, trace.rows, t0), sep="\n", flush=True)
        del fn
    trace.stop = True
    trace.join()
    (out / "power_trace.json").write_text(json.dumps({"power_limit_w": limit_w, "cases": results,
                                                      "trace": trace.rows, "gpu": torch.cuda.get_device_name()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
