"""The run's configuration: a typed dataclass tree read from YAML, strict and checked up front.

`load_config(path)` either returns a `Config` or raises `ConfigError` with one message naming
the field path, the bad value and what is allowed. Nothing is started before it returns, and
nothing here imports Ray. Allowed values and bounds live on the fields themselves (base/fields.py);
a sweep's grid is checked against its job's own parameters (jobs/__init__.py): the axes it takes,
and each one's values. Every number must be finite and fit a 64-bit journal column.
"""
from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from base import vocab
from base.errors import BadInput
from base.fields import bounded, choices
from base.settings import DAY_S, MemoryBudget, TimingConfig
from jobs import JOBS

# A sweep's or a candidate's name reaches every output as written (tables, plots, CSV, the terminal):
# letters, digits, _ . and -, starting with neither a formula sign nor punctuation.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
NAME_RULE = "a name is 1 to 64 letters, digits, _ . or -, starting with a letter, a digit or _"
IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
MAX_CONFIG_BYTES = 2**20
MAX_DEPTH = 32  # YAML nesting: a config needs 5 levels
INT64_MAX = 2**63 - 1


class ConfigError(BadInput):
    """A config that cannot run; the message is meant for the user as it is."""


@dataclass(frozen=True)
class RunConfig:
    placement: str = choices(*vocab.PLACEMENTS, default="every_device")
    job_timeout_s: float = bounded(1, 7 * DAY_S, default=900.0)
    max_retries: int = bounded(0, 100, default=1)  # re-runs of a job whose worker process died
    skip_larger_after_oom: bool = False  # after an OOM, record strictly larger shapes as skipped
    measure_ceilings: bool = True  # a device_ceilings job first on every GPU, for % of peak
    memory_budget: MemoryBudget = MemoryBudget()
    seed: int = bounded(0, INT64_MAX, default=0)
    max_jobs: int = bounded(1, 10**9, default=100_000)  # more points than this is refused before expanding


@dataclass(frozen=True)
class SweepConfig:
    name: str
    # axis -> values: every combination is one point; the job's parameters say which axes it takes
    grid: dict[str, tuple[Any, ...]]
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


class StrictLoader(yaml.SafeLoader):
    """yaml.safe_load without aliases (`*name` can multiply a 500-byte file into gigabytes), without
    duplicate keys (the last would silently win) and at most MAX_DEPTH levels deep."""
    depth = 0

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            raise ConfigError(f"line {mark.line + 1}: YAML aliases (*name) are not allowed in a config; "
                              "write the values out")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConfigError(f"line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep; a config needs 5")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable) and key in seen:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: key {short(key)} is given twice; "
                                  "keep one")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file; pass an existing YAML file with -c")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size} bytes; a config is at most {MAX_CONFIG_BYTES} bytes")
    try:
        return yaml.load(path.read_bytes()[:MAX_CONFIG_BYTES + 1].decode("utf-8"), Loader=StrictLoader)  # noqa: S506
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
    for i, name in enumerate(names):
        if not NAME.fullmatch(name):
            raise ConfigError(f"config.sweeps[{i}].name: {short(name)} is not allowed; {NAME_RULE}")
    if len(set(names)) != len(names):
        raise ConfigError(f"config.sweeps: sweep names must be unique, got {short(names)}")
    check_candidates(config)
    return config


def check_candidates(config: Config) -> None:
    """Candidate names are new, their targets import paths; a field that takes them (a backend)
    allows the job's own choices and those names."""
    for name, target in config.candidates.items():
        if not NAME.fullmatch(name):
            raise ConfigError(f"config.candidates: {short(name)} is not allowed as a name; {NAME_RULE}")
        if name in candidate_fields_choices(config) or not IMPORT_PATH.fullmatch(target):
            raise ConfigError(f"config.candidates.{name}: {short(target)} is not allowed; give a name that is not a "
                              "built-in backend and an import path of the form package.module:function")
    for i, sweep in enumerate(config.sweeps):
        for axis, meta in open_choices(sweep.job).items():
            allowed = [*meta["choices"], *config.candidates]
            for j, value in enumerate(sweep.grid.get(axis, ())):
                if value not in allowed:
                    raise ConfigError(f"config.sweeps[{i}].grid.{axis}[{j}]: {short(value)} is not allowed; "
                                      f"choose one of: {', '.join(allowed)}")


def open_choices(job: str) -> dict[str, Any]:
    """The job's parameters whose choices the config's candidates extend: name -> field metadata."""
    return {f.name: f.metadata for f in dataclasses.fields(JOBS[job].params) if f.metadata.get("candidates")}


def candidate_fields_choices(config: Config) -> set[str]:
    return {c for sweep in config.sweeps for meta in open_choices(sweep.job).values() for c in meta["choices"]}


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
        if name in data and not (cls is SweepConfig and name == "grid"):  # the grid needs the job: below
            kwargs[name] = convert(hints[name], data[name], f"{path}.{name}", f.metadata)
        elif name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}.{name}: missing; this field is required")
    if cls is SweepConfig:
        kwargs["grid"] = parse_grid(kwargs.get("job", fields["job"].default), data["grid"], f"{path}.grid")
    return cls(**kwargs)


def parse_grid(job: str, data: Any, path: str) -> dict[str, tuple[Any, ...]]:
    """A sweep's grid: each axis one of the job's parameters, its values what that parameter allows
    (a lone value stands for a list of one)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of axis: [values], got {short(data)}")
    params = JOBS[job].params
    axes = {f.name: f for f in dataclasses.fields(params) if not f.metadata.get("derived")}
    hints = typing.get_type_hints(params)
    grid = {}
    for key, values in data.items():
        if key not in axes:
            raise ConfigError(f"{path}.{key if isinstance(key, str) else short(key)}: unknown key; job {job} takes "
                              f"the axes: {', '.join(axes)}")
        meta = {k: v for k, v in axes[key].metadata.items() if not (k == "choices" and axes[key].metadata.get(
            "candidates"))}  # a backend may also name a candidate: checked once candidates are known
        grid[key] = convert(tuple[hints[key], ...], values, f"{path}.{key}", meta)
    for name, f in axes.items():
        if name not in grid and f.default is dataclasses.MISSING:
            raise ConfigError(f"{path}.{name}: missing; job {job} needs this axis")
    return grid


def convert(hint: Any, value: Any, path: str, meta: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:  # a list in YAML; a lone scalar stands for a one-element list
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ConfigError(f"{path}: empty list; give at least one value")
        return tuple(convert(args[0], v, f"{path}[{i}]", meta) for i, v in enumerate(items))
    if origin is typing.Union or (args and type(None) in args):  # Optional[X], X | None
        return None if value is None else convert(next(a for a in args if a is not type(None)), value, path, meta)
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
