"""Every job, by name: the one registry the config and the worker look jobs up in.

A job is a module: a plain function `(params, ctx) -> Outcome`, the parameters it takes (a frozen
dataclass: the grid axes a sweep may give it), the metrics it returns (a TypedDict) and how the
report shows its rows, gathered in the module's `JOB` (jobs/contract.py). Add a job by writing its
module and one entry below; nothing registers itself.
"""
from __future__ import annotations

from jobs import ceilings, correctness, decode, faults, sdpa_benchmark, varlen_prefill
from jobs.contract import Job

JOBS: dict[str, Job] = {
    "sdpa_benchmark": sdpa_benchmark.JOB,
    "causal_correctness": correctness.JOB,
    "device_ceilings": ceilings.JOB,
    "fault_injection": faults.JOB,
    "decode": decode.JOB,
    "varlen_prefill": varlen_prefill.JOB,
}


def job(name: str) -> Job:
    if name not in JOBS:
        raise ValueError(f"unknown job {name!r}; choose one of: {', '.join(JOBS)}")
    return JOBS[name]
