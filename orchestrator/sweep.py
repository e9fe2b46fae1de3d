"""From the config's sweeps to the list of jobs, and each job's stable id.

Everything here runs before Ray starts, so a grid that cannot run is a config error, not a
failed job. Points are deduplicated after defaults are resolved: `backend: [math, math]` or
`kv_heads: [null, 2]` with `heads: 2` name one job, not two.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass

from base import vocab
from base.point import JobSpec
from orchestrator.config import Config, ConfigError, SweepConfig


def resolve(point: dict, grid: dict, candidates: dict[str, str]) -> dict | None:
    """The point with defaults filled in, or None where an axis does not apply to it and would only
    repeat it: a mask form on a non-causal point, a flash implementation on a backend that never
    reaches SDPA's flash kernel."""
    if not point["causal"] and point["mask"] != grid["mask"][0]:
        return None
    if point["backend"] not in vocab.FLASH_IMPL_BACKENDS and point["flash_impl"] != grid["flash_impl"][0]:
        return None
    return {**point, "candidate": candidates.get(point["backend"], ""),
            "kv_heads": point["kv_heads"] or point["heads"], "kv_len": point["kv_len"] or point["seq_len"],
            "mask": point["mask"] if point["causal"] else "is_causal",
            "flash_impl": point["flash_impl"] if point["backend"] in vocab.FLASH_IMPL_BACKENDS else "builtin"}


def expand_sweep(sweep: SweepConfig, index: int, seed: int, candidates: dict[str, str]) -> list[JobSpec]:
    """Every distinct combination of the sweep's grid, in grid order."""
    grid = dataclasses.asdict(sweep.grid)
    specs: dict[JobSpec, None] = {}
    for values in itertools.product(*grid.values()):
        point = resolve(dict(zip(grid, values)), grid, candidates)
        if point is None:
            continue
        if point["heads"] % point["kv_heads"]:
            raise ConfigError(f"config.sweeps[{index}].grid: heads={point['heads']} is not a multiple of "
                              f"kv_heads={point['kv_heads']}; grouped-query attention needs it to be")
        specs[JobSpec(job=sweep.job, sweep=sweep.name, seed=seed, **point)] = None
    return list(specs)


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
    fields = {k: v for k, v in dataclasses.asdict(spec).items() if not (k == "flash_impl" and v == "builtin")}
    blob = json.dumps([fields, target], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]
