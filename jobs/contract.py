"""The job contract: what a job is (`Job`), what the worker hands it (`JobContext`), what it hands
back (`Outcome`), and how it says an implementation cannot run its point (`Unsupported`).

A job is a plain function `(params, ctx) -> Outcome`. Its module declares next to it the parameters
it takes (a frozen dataclass subclassing base.point.Params: the grid axes, with their rules) and
the metrics it returns (a TypedDict: names with their units, and types), and how the report shows
its rows (base.schema.ReportHints); jobs/__init__.py lists every job by name.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from base.point import Params
from base.schema import Metrics, ReportHints

if TYPE_CHECKING:
    import torch

    from base.settings import TimingConfig
    from jobs.settle import CapCycle

SCALARS = (str, int, float, bool)


class Unsupported(Exception):
    """The implementation cannot run this point on this device; the message is the library's reason."""


@dataclass(frozen=True)
class Outcome:
    """A job's answer: flat metrics (keys its Metrics declares) and raw timing samples."""
    metrics: Metrics = field(default_factory=dict)
    samples_ms: tuple[float, ...] = ()


@dataclass(frozen=True)
class JobContext:
    """What the worker hands every job: its device, how to time, the run's seed, and what the worker
    has measured of its GPU's power cap so far (one per worker, carried from job to job)."""
    device: torch.device
    timing: TimingConfig
    seed: int
    cap_cycle: CapCycle


def scalar(hint: Any) -> type:
    """The column type of a field annotation: `int | None` -> int."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint not in SCALARS:
        raise TypeError(f"{hint!r} is not a flat value type ({', '.join(t.__name__ for t in SCALARS)})")
    return hint


@dataclass(frozen=True)
class Job:
    function: Callable[[Any, JobContext], Outcome]
    params: type[Params]
    metrics: type  # a TypedDict, total=False: every metric the function may return
    report: ReportHints

    def param_types(self) -> dict[str, type]:
        hints = typing.get_type_hints(self.params)
        return {f.name: scalar(hints[f.name]) for f in dataclasses.fields(self.params)}

    def metric_types(self) -> dict[str, type]:
        return {name: scalar(hint) for name, hint in typing.get_type_hints(self.metrics).items()}

    def param_defaults(self, required: object) -> dict[str, Any]:
        """Each parameter -> its default, or `required` where it has none."""
        return {f.name: required if f.default is dataclasses.MISSING else f.default
                for f in dataclasses.fields(self.params)}

    def schema(self) -> Mapping[str, Any]:
        """This job's entry in schema.json."""
        return {"params": list(self.param_types()), "metrics": list(self.metric_types()),
                "report": dataclasses.asdict(self.report)}
