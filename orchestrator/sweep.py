"""From the config's sweeps to the list of jobs, and each job's stable id.

Everything here runs before Ray starts, so a grid that cannot run is a config error, not a failed
job. A point is every combination of the sweep's grid, each axis the grid leaves out at the job's
default, resolved by the job's parameters (defaults filled in, fields checked against each other);
points are deduplicated after that: `backend: [math, math]` or `kv_heads: [null, 2]` with
`heads: 2` name one job, not two. The jobs are counted before they are made.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass

from base import format1
from base.point import JobSpec
from jobs import JOBS
from jobs.ceilings import CeilingsParams
from orchestrator.config import Config, ConfigError, SweepConfig


def axes(sweep: SweepConfig) -> dict[str, tuple]:
    """Every axis of the sweep's job, in the order its parameters declare them: the grid's values,
    else the parameter's default."""
    fields = [f for f in dataclasses.fields(JOBS[sweep.job].params) if not f.metadata.get("derived")]
    return {f.name: sweep.grid.get(f.name, (f.default,)) for f in fields}


def expand_sweep(sweep: SweepConfig, index: int, seed: int, candidates: dict[str, str]) -> list[JobSpec]:
    """Every distinct point of the sweep, in grid order."""
    grid, params = axes(sweep), JOBS[sweep.job].params
    specs: dict[JobSpec, None] = {}
    for values in itertools.product(*grid.values()):
        try:
            point = params(**dict(zip(grid, values))).resolved(candidates)
        except ValueError as err:
            raise ConfigError(f"config.sweeps[{index}].grid: {err}") from None
        specs[JobSpec(job=sweep.job, sweep=sweep.name, seed=seed, params=point)] = None
    return list(specs)


@dataclass(frozen=True)
class SweepJob:
    """One point of a sweep with what the driver needs to place and police it."""
    spec: JobSpec
    device_type: str  # any | cuda | cpu: which workers may run it
    timeout_s: float


def ceilings_job(config: Config) -> SweepJob:
    """The device_ceilings job: GPUs only (a CPU's matmul peak says little about its SDPA)."""
    spec = JobSpec(job="device_ceilings", sweep="device_ceilings", seed=config.run.seed, params=CeilingsParams())
    return SweepJob(spec, "cuda", config.run.job_timeout_s)


def check_size(config: Config) -> None:
    """Refuse a config whose grids make more than run.max_jobs points, before making any."""
    counts = [math.prod(len(v) for v in axes(s).values()) for s in config.sweeps]
    if sum(counts) > config.run.max_jobs:
        big = max(range(len(counts)), key=counts.__getitem__)
        raise ConfigError(f"config.sweeps: {sum(counts)} points, more than run.max_jobs={config.run.max_jobs}; "
                          f"sweeps[{big}] ({config.sweeps[big].name}) makes {counts[big]} of them: shrink its grid, "
                          "or raise run.max_jobs")


def expand_config(config: Config) -> list[SweepJob]:
    """All jobs of the run, in config order (after the device ceilings, when measured)."""
    if config.timing.min_reps > config.timing.max_reps:
        raise ConfigError(f"config.timing.min_reps: {config.timing.min_reps} is more than "
                          f"max_reps={config.timing.max_reps}; make min_reps <= max_reps")
    check_size(config)
    jobs = [ceilings_job(config)] if config.run.measure_ceilings else []
    return jobs + [SweepJob(spec, sweep.device_type, sweep.job_timeout_s or config.run.job_timeout_s)
                   for i, sweep in enumerate(config.sweeps)
                   for spec in expand_sweep(sweep, i, config.run.seed, config.candidates)]


def job_id(spec: JobSpec, target: str) -> str:
    """Stable id from the job's content and where it runs: the same point on the same device
    always gets the same id, so resume and retries are exact (and ids carry over from format 1)."""
    defaults = JOBS[spec.job].param_defaults(format1.REQUIRED)
    blob = json.dumps([format1.id_fields(spec.fields(), defaults), target], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]
