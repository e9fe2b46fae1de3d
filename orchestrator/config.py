"""The run's configuration: a typed dataclass tree read from YAML, strict and checked up front.

`load_config(path)` either returns a `Config` or raises `ConfigError` with one message naming
the field path, the bad value and what is allowed. Nothing is started before it returns.
Allowed values and lower bounds live on the fields themselves (`choices`, `min` metadata).
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobs import JOBS
from jobs.backends import BACKENDS
from jobs.faults import FAULTS
from jobs.masks import MASKS
from jobs.sdpa_benchmark import DRAWS, DTYPES
from jobs.flops import MODE_FACTOR
from jobs.timing import TimingConfig

PLACEMENTS = ("every_device", "one_per_model", "spread")
DEVICE_TYPES = ("any", "cuda", "cpu")


class ConfigError(ValueError):
    """A config that cannot run; the message is meant for the user as it is."""


def choices(*allowed: str, default: Any = dataclasses.MISSING) -> Any:
    return field(default=default, metadata={"choices": tuple(allowed)})


def at_least(low: float, default: Any = dataclasses.MISSING) -> Any:
    return field(default=default, metadata={"min": low})


@dataclass(frozen=True)
class MemoryBudget:
    """Cap on what a worker's jobs may allocate, so a large GPU can stand in for a smaller one."""
    fraction: typing.Optional[float] = field(default=None, metadata={"min": 0.001, "max": 1.0})
    gib: typing.Optional[float] = field(default=None, metadata={"min": 0.001})
    devices: tuple[str, ...] = ()  # e.g. [cuda:1]; empty: every device


@dataclass(frozen=True)
class RunConfig:
    placement: str = choices(*PLACEMENTS, default="every_device")
    job_timeout_s: float = at_least(1, default=900.0)
    max_retries: int = at_least(0, default=1)  # re-runs of a job whose worker process died
    skip_larger_after_oom: bool = False  # after an OOM, record strictly larger shapes as skipped
    measure_ceilings: bool = True  # a device_ceilings job first on every GPU, for % of peak
    memory_budget: MemoryBudget = MemoryBudget()
    seed: int = 0


@dataclass(frozen=True)
class GridConfig:
    """Every combination of these values is one benchmark point. `null` kv_* means 'as q'."""
    batch: tuple[int, ...] = field(metadata={"min": 1})
    heads: tuple[int, ...] = field(metadata={"min": 1})
    seq_len: tuple[int, ...] = field(metadata={"min": 1})
    head_dim: tuple[int, ...] = field(metadata={"min": 1})
    dtype: tuple[str, ...] = field(metadata={"choices": tuple(DTYPES)})
    backend: tuple[str, ...]  # a built-in backend or a name from `candidates` (checked in load_config)
    causal: tuple[bool, ...] = (False,)
    kv_heads: tuple[typing.Optional[int], ...] = field(default=(None,), metadata={"min": 1})
    kv_len: tuple[typing.Optional[int], ...] = field(default=(None,), metadata={"min": 1})
    mode: tuple[str, ...] = field(default=("fwd",), metadata={"choices": tuple(MODE_FACTOR)})
    inputs: tuple[str, ...] = field(default=("randn",), metadata={"choices": tuple(DRAWS)})
    mask: tuple[str, ...] = field(default=("is_causal",), metadata={"choices": MASKS})  # causal points only
    fault: tuple[str, ...] = field(default=("none",), metadata={"choices": FAULTS})  # fault_injection job only


@dataclass(frozen=True)
class SweepConfig:
    name: str
    grid: GridConfig
    job: str = choices(*JOBS, default="sdpa_benchmark")
    device_type: str = choices(*DEVICE_TYPES, default="any")  # which workers run this sweep
    job_timeout_s: typing.Optional[float] = at_least(1, default=None)  # overrides run.job_timeout_s


@dataclass(frozen=True)
class Config:
    sweeps: tuple[SweepConfig, ...]
    run: RunConfig = RunConfig()
    timing: TimingConfig = TimingConfig()
    # your own kernels: name -> "package.module:function", usable as a backend name in any grid
    candidates: dict[str, str] = field(default_factory=dict)


def load_config(path: str | Path) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file; pass an existing YAML file with -c")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
    config = parse(Config, data, "config")
    names = [s.name for s in config.sweeps]
    if len(set(names)) != len(names):
        raise ConfigError(f"config.sweeps: sweep names must be unique, got {names}")
    check_backends(config)
    return config


def check_backends(config: Config) -> None:
    for name, target in config.candidates.items():
        if name in BACKENDS or ":" not in target:
            raise ConfigError(f"config.candidates.{name}: {target!r} is not allowed; give a name that is not a built-in "
                              "backend and an import path of the form package.module:function")
    allowed = [*BACKENDS, *config.candidates]
    for i, sweep in enumerate(config.sweeps):
        for j, backend in enumerate(sweep.grid.backend):
            if backend not in allowed:
                raise ConfigError(f"config.sweeps[{i}].grid.backend[{j}]: {backend!r} is not allowed; "
                                  f"choose one of: {', '.join(allowed)}")


def parse(cls: type, data: Any, path: str) -> Any:
    """Build dataclass `cls` from plain YAML data, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {cls.__name__} fields, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(f"{path}.{key}: unknown key; valid keys are: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = convert(hints[name], data[name], f"{path}.{name}", f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}.{name}: missing; this field is required")
    return cls(**kwargs)


def convert(hint: Any, value: Any, path: str, meta: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:  # a list in YAML; a lone scalar stands for a one-element list
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ConfigError(f"{path}: empty list; give at least one value")
        return tuple(convert(args[0], v, f"{path}[{i}]", meta) for i, v in enumerate(items))
    if origin is typing.Union:  # Optional[X]
        return None if value is None else convert(args[0], value, path, meta)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, path)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping of name: value, got {value!r}")
        return {check_scalar(args[0], k, f"{path} key", {}): convert(args[1], v, f"{path}.{k}", meta)
                for k, v in value.items()}
    return check_scalar(hint, value, path, meta)


def check_scalar(hint: type, value: Any, path: str, meta: Any) -> Any:
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise ConfigError(f"{path}: {value!r} is not a {hint.__name__}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{path}: {value!r} is not allowed; choose one of: {', '.join(meta['choices'])}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{path}: {value!r} is not allowed; it must be >= {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{path}: {value!r} is not allowed; it must be <= {meta['max']}")
    return value
