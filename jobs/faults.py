"""Job `fault_injection`: a real fault, on purpose, to prove the orchestrator isolates it.

Used by `sdpa-bench selftest` and the tests. Each fault is the real thing, not a stand-in:
an allocation larger than the device (torch raises its own out-of-memory error), a Python
exception, the worker process exiting under the driver (`os._exit`), a `SystemExit` and a
`KeyboardInterrupt` raised by the job, a call that never returns, metrics the job never declared.
base.vocab.EXPECTED_STATUS says what each must end in.
"""
from __future__ import annotations

import os
import sys
import time

import torch

from base.point import JobSpec
from base.settings import TimingConfig
from jobs.sdpa_benchmark import sdpa_benchmark
from jobs.spec import Outcome


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
    elif spec.fault == "exit":
        sys.exit(3)  # what a library's sys.exit() does: SystemExit, a BaseException
    elif spec.fault == "interrupt":
        raise KeyboardInterrupt("injected by fault_injection")
    elif spec.fault == "hang":
        time.sleep(10**6)
    elif spec.fault == "undeclared":
        return Outcome(metrics={"median_ms": 1.0, "speed_furlongs": 3.0})  # a field jobs.JOBS does not declare
    return sdpa_benchmark(spec, device, timing)  # `none`: an ordinary benchmark point
