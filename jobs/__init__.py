"""Job functions, by name: the one registry the worker looks jobs up in.

A job is a plain function `(spec, device, timing) -> Outcome` whose metrics are flat values
keyed by the fields it declares here; the worker turns an undeclared key into an `error` row
naming it. Add a job by writing its function and its entry below; nothing registers itself.
Functions are named by import path and imported by the worker only, so that this registry, and
the config that checks job names against it, load without torch.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Mapping

from base.schema import CEILINGS, CORRECTNESS, GPU_STATE, PROTOCOL, TIMING


@dataclass(frozen=True)
class Job:
    function: str  # "module:function"
    fields: Mapping[str, type]  # every metric the function may return, with its type


JOBS = {
    "sdpa_benchmark": Job("jobs.sdpa_benchmark:sdpa_benchmark", {**TIMING, **PROTOCOL, **GPU_STATE}),
    "causal_correctness": Job("jobs.correctness:causal_correctness", CORRECTNESS),
    "device_ceilings": Job("jobs.ceilings:device_ceilings", CEILINGS),
    "fault_injection": Job("jobs.faults:fault_injection", {**TIMING, **PROTOCOL, **GPU_STATE}),
}


def job_function(name: str) -> Callable:
    if name not in JOBS:
        raise ValueError(f"unknown job {name!r}; choose one of: {', '.join(JOBS)}")
    module, _, function = JOBS[name].function.partition(":")
    return getattr(importlib.import_module(module), function)
