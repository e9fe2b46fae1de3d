"""Job `fault_injection`: a real fault, on purpose, to prove the orchestrator isolates it.

Used by `sdpa-bench selftest` and the tests. Each fault is the real thing, not a stand-in:
an allocation larger than the device (torch raises its own out-of-memory error), a Python
exception, the worker process exiting under the driver (`os._exit`), a `SystemExit` and a
`KeyboardInterrupt` raised by the job, a call that never returns, metrics the job never declared.
`none` is an ordinary sdpa_benchmark point. EXPECTED_STATUS says what each must end in.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import torch

from base.fields import choices
from base.schema import ReportHints
from jobs.contract import Job, JobContext, Outcome
from jobs.dense import DenseParams
from jobs.sdpa_benchmark import Metrics, sdpa_benchmark

EXPECTED_STATUS = {"none": "ok", "oom": "oom", "error": "error", "crash": "crashed", "hang": "timeout",
                   "exit": "crashed", "interrupt": "crashed", "undeclared": "error"}


@dataclass(frozen=True, kw_only=True)
class FaultParams(DenseParams):
    fault: str = choices(*EXPECTED_STATUS, default="none")

    def label(self) -> str:
        return f"{super().label()} fault={self.fault}"


class InjectedError(RuntimeError):
    """The exception `fault: error` raises."""


def exhaust_memory(device: torch.device) -> None:
    """Ask the allocator for more than the device has: a real OOM from torch itself."""
    if device.type == "cuda":
        too_much = 2 * torch.cuda.get_device_properties(device).total_memory
    else:
        too_much = 2**50  # 1 PiB: the CPU allocator refuses it at once, nothing is touched
    torch.empty(too_much, dtype=torch.uint8, device=device)


def fault_injection(p: FaultParams, ctx: JobContext) -> Outcome:
    if p.fault == "oom":
        exhaust_memory(ctx.device)
    elif p.fault == "error":
        raise InjectedError("injected by fault_injection")
    elif p.fault == "crash":
        os._exit(17)  # the worker process dies mid-call, as a segfault would end it
    elif p.fault == "exit":
        sys.exit(3)  # what a library's sys.exit() does: SystemExit, a BaseException
    elif p.fault == "interrupt":
        raise KeyboardInterrupt("injected by fault_injection")
    elif p.fault == "hang":
        time.sleep(10**6)
    elif p.fault == "undeclared":
        return Outcome(metrics={"median_ms": 1.0, "speed_furlongs": 3.0})  # a field its Metrics does not declare
    return sdpa_benchmark(p, ctx)


JOB = Job(fault_injection, FaultParams, Metrics, ReportHints("none"))
