"""Job `fault_injection`: a real fault, on purpose, to prove the orchestrator isolates it.

Used by `sdpa-bench selftest` and the tests. Each fault is the real thing, not a stand-in:
an allocation larger than the device (torch raises its own out-of-memory error), a Python
exception, the worker process exiting under the driver, a call that never returns.
"""
from __future__ import annotations

import os
import time

import torch

from jobs.sdpa_benchmark import sdpa_benchmark
from jobs.spec import JobSpec, Outcome
from jobs.timing import TimingConfig

FAULTS = ("none", "oom", "error", "crash", "hang")
# What the run should record for each fault (selftest compares against this).
EXPECTED_STATUS = {"none": "ok", "oom": "oom", "error": "error", "crash": "crashed", "hang": "timeout"}


class InjectedError(RuntimeError):
    """The exception `fault: error` raises."""


def exhaust_memory(device: torch.device) -> None:
    """Ask the allocator for more than the device has: a real OOM from torch itself."""
    if device.type == "cuda":
        too_much = 2 * torch.cuda.get_device_properties(device).total_memory
    else:
        too_much = 2**50  # 1 PiB: the CPU allocator refuses it at once, nothing is touched
    torch.empty(too_much, dtype=torch.uint8, device=device)


def fault_injection(spec: JobSpec, device: torch.device, timing: TimingConfig) -> Outcome:
    if spec.fault == "oom":
        exhaust_memory(device)
    elif spec.fault == "error":
        raise InjectedError("injected by fault_injection")
    elif spec.fault == "crash":
        os._exit(17)  # the worker process dies mid-call, as a segfault would end it
    elif spec.fault == "hang":
        time.sleep(10**6)
    return sdpa_benchmark(spec, device, timing)  # `none`: an ordinary benchmark point
