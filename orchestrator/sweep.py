"""From the config's sweeps to the list of `JobSpec`s, and each job's stable id.

Everything here runs before Ray starts, so a grid that cannot run is a config error, not a
failed job.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass

from jobs.spec import JobSpec
from orchestrator.config import Config, ConfigError, SweepConfig


def expand_sweep(sweep: SweepConfig, index: int, seed: int, candidates: dict[str, str]) -> list[JobSpec]:
    """Every combination of the sweep's grid, in grid order; `None` kv_* take q's values. A mask
    form only matters for causal points: non-causal points are not repeated for each."""
    grid = dataclasses.asdict(sweep.grid)
    specs = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values))
        if not point["causal"] and point["mask"] != grid["mask"][0]:
            continue
        point["candidate"] = candidates.get(point["backend"], "")
        point["kv_heads"] = point["kv_heads"] or point["heads"]
        point["kv_len"] = point["kv_len"] or point["seq_len"]
        if point["heads"] % point["kv_heads"]:
            raise ConfigError(f"config.sweeps[{index}].grid: heads={point['heads']} is not a multiple of "
                              f"kv_heads={point['kv_heads']}; grouped-query attention needs it to be")
        specs.append(JobSpec(job=sweep.job, sweep=sweep.name, seed=seed, **point))
    return specs


@dataclass(frozen=True)
class SweepJob:
    """One point of a sweep with what the driver needs to place and police it."""
    spec: JobSpec
    device_type: str  # any | cuda | cpu: which workers may run it
    timeout_s: float


def ceilings_job(config: Config) -> SweepJob:
    """The device_ceilings job: GPUs only (a CPU's matmul peak says little about its SDPA)."""
    spec = JobSpec(job="device_ceilings", sweep="device_ceilings", backend="", dtype="", batch=0, heads=0,
                   kv_heads=0, seq_len=0, kv_len=0, head_dim=0, causal=False, mode="", inputs="",
                   seed=config.run.seed)
    return SweepJob(spec, "cuda", config.run.job_timeout_s)


def expand_config(config: Config) -> list[SweepJob]:
    """All jobs of the run, in config order (after the device ceilings, when measured)."""
    if config.timing.min_reps > config.timing.max_reps:
        raise ConfigError(f"config.timing.min_reps: {config.timing.min_reps} is more than "
                          f"max_reps={config.timing.max_reps}; make min_reps <= max_reps")
    jobs = [ceilings_job(config)] if config.run.measure_ceilings else []
    return jobs + [SweepJob(spec, sweep.device_type, sweep.job_timeout_s or config.run.job_timeout_s)
                   for i, sweep in enumerate(config.sweeps)
                   for spec in expand_sweep(sweep, i, config.run.seed, config.candidates)]


def job_id(spec: JobSpec, target: str) -> str:
    """Stable id from the job's content and where it runs: the same point on the same device
    always gets the same id, so resume and retries are exact."""
    blob = json.dumps([dataclasses.asdict(spec), target], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]
