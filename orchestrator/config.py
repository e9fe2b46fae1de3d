"""The run's configuration: a typed dataclass tree read from YAML, strict and checked up front.

`load_config(path)` either returns a `Config` or raises `ConfigError` with one message naming
the field path, the bad value and what is allowed. Nothing is started before it returns, and
nothing here imports torch or Ray. Allowed values and bounds live on the fields themselves
(`choices`, `min`, `max` metadata); every number must be finite and fit a 64-bit journal column.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from base import vocab
from base.errors import BadInput
from base.settings import DAY_S, MemoryBudget, TimingConfig
from jobs import JOBS

MAX_CONFIG_BYTES = 2**20
INT64_MAX = 2**63 - 1
DIM_MAX = 2**31 - 1  # a tensor dimension


class ConfigError(BadInput):
    """A config that cannot run; the message is meant for the user as it is."""


def choices(*allowed: str, default: Any = dataclasses.MISSING) -> Any:
    return field(default=default, metadata={"choices": tuple(allowed)})


def bounded(low: float, high: float, default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    return field(default=default, metadata={"min": low, "max": high, **meta})


@dataclass(frozen=True)
class RunConfig:
    placement: str = choices(*vocab.PLACEMENTS, default="every_device")
    job_timeout_s: float = bounded(1, 7 * DAY_S, default=900.0)
    max_retries: int = bounded(0, 100, default=1)  # re-runs of a job whose worker process died
    skip_larger_after_oom: bool = False  # after an OOM, record strictly larger shapes as skipped
    measure_ceilings: bool = True  # a device_ceilings job first on every GPU, for % of peak
    memory_budget: MemoryBudget = MemoryBudget()
    seed: int = bounded(0, INT64_MAX, default=0)


@dataclass(frozen=True)
class GridConfig:
    """Every combination of these values is one point. `null` kv_* means 'as q'."""
    batch: tuple[int, ...] = bounded(1, DIM_MAX)
    heads: tuple[int, ...] = bounded(1, DIM_MAX)
    seq_len: tuple[int, ...] = bounded(1, DIM_MAX)
    head_dim: tuple[int, ...] = bounded(1, DIM_MAX)
    dtype: tuple[str, ...] = choices(*vocab.DTYPES)
    backend: tuple[str, ...] = field()  # a vocab backend or a name from `candidates` (checked in load_config)
    causal: tuple[bool, ...] = (False,)
    kv_heads: tuple[typing.Optional[int], ...] = bounded(1, DIM_MAX, default=(None,))
    kv_len: tuple[typing.Optional[int], ...] = bounded(1, DIM_MAX, default=(None,))
    mode: tuple[str, ...] = choices(*vocab.MODES, default=("fwd",))
    inputs: tuple[str, ...] = choices(*vocab.DRAWS, default=("randn",))
    mask: tuple[str, ...] = choices(*vocab.MASKS, default=("is_causal",))  # causal points only
    # the kernel behind SDPA's flash backend; default and flash points only
    flash_impl: tuple[str, ...] = choices(*vocab.FLASH_IMPLS, default=("builtin",))
    fault: tuple[str, ...] = choices(*vocab.FAULTS, default=("none",))  # fault_injection job only


@dataclass(frozen=True)
class SweepConfig:
    name: str
    grid: GridConfig
    job: str = choices(*JOBS, default="sdpa_benchmark")
    device_type: str = choices(*vocab.DEVICE_TYPES, default="any")  # which workers run this sweep
    job_timeout_s: typing.Optional[float] = bounded(1, 7 * DAY_S, default=None)  # overrides run.job_timeout_s


@dataclass(frozen=True)
class Config:
    sweeps: tuple[SweepConfig, ...]
    run: RunConfig = RunConfig()
    timing: TimingConfig = TimingConfig()
    # your own kernels: name -> "package.module:function", usable as a backend name in any grid
    candidates: dict[str, str] = field(default_factory=dict)


class NoAliasLoader(yaml.SafeLoader):
    """yaml.safe_load without aliases: `*name` can multiply a 500-byte file into gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ConfigError(f"line {mark.line + 1}: YAML aliases (*name) are not allowed in a config; "
                              "write the values out")
        return super().compose_node(parent, index)


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file; pass an existing YAML file with -c")
    data = path.read_bytes()
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {len(data)} bytes; a config is at most {MAX_CONFIG_BYTES} bytes")
    try:
        return yaml.load(data.decode("utf-8"), Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save the config as UTF-8") from None
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {str(err)[:300]}".replace("\n", " ")) from None


def load_config(path: str | Path) -> Config:
    return config_from_data(read_yaml(Path(path)))


def config_from_data(data: Any) -> Config:
    config = parse(Config, data, "config")
    names = [s.name for s in config.sweeps]
    if len(set(names)) != len(names):
        raise ConfigError(f"config.sweeps: sweep names must be unique, got {short(names)}")
    check_backends(config)
    return config


def check_backends(config: Config) -> None:
    for name, target in config.candidates.items():
        if name in vocab.BACKENDS or ":" not in target:
            raise ConfigError(f"config.candidates.{name}: {short(target)} is not allowed; give a name that is not a "
                              "built-in backend and an import path of the form package.module:function")
    allowed = [*vocab.BACKENDS, *config.candidates]
    for i, sweep in enumerate(config.sweeps):
        for j, backend in enumerate(sweep.grid.backend):
            if backend not in allowed:
                raise ConfigError(f"config.sweeps[{i}].grid.backend[{j}]: {short(backend)} is not allowed; "
                                  f"choose one of: {', '.join(allowed)}")


def parse(cls: type, data: Any, path: str) -> Any:
    """Build dataclass `cls` from plain YAML data, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {cls.__name__} fields, got {short(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(f"{path}.{key if isinstance(key, str) else short(key)}: unknown key; "
                              f"valid keys are: {', '.join(fields)}")
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
            raise ConfigError(f"{path}: expected a mapping of name: value, got {short(value)}")
        return {check_scalar(args[0], k, f"{path} key", {}): convert(args[1], v, f"{path}.{k}", meta)
                for k, v in value.items()}
    return check_scalar(hint, value, path, meta)


def check_scalar(hint: type, value: Any, path: str, meta: Any) -> Any:
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool) and abs(value) <= INT64_MAX:
        ok, value = True, float(value)
    if not ok:
        raise ConfigError(f"{path}: {short(value)} is not a {hint.__name__}")
    if hint is float and not math.isfinite(value):
        raise ConfigError(f"{path}: {value!r} is not allowed; give a finite number")
    if hint is int and abs(value) > INT64_MAX:
        raise ConfigError(f"{path}: {short(value)} is not allowed; it must fit in 64 bits (<= {INT64_MAX})")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{path}: {short(value)} is not allowed; choose one of: {', '.join(meta['choices'])}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{path}: {short(value)} is not allowed; it must be >= {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{path}: {short(value)} is not allowed; it must be <= {meta['max']}")
    return value


def short(value: Any, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters: an error message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
