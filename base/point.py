"""One job's question (`JobSpec`): which job, in which sweep, with which seed, at which point.

A job's point is its own parameters: a frozen dataclass that its module declares, subclassing
`Params` (jobs/__init__.py lists every job). `label()` names the point for a person (progress lines,
report headings, `compare`), `family()` names the shape family it belongs to (one curve of the
report), `implementation()` what the report compares at the point. A row carries the three as
strings beside the parameters, so the report groups and names rows without any job's code.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Params:
    """What every job's parameters answer; a job's own frozen dataclass subclasses this."""

    def resolved(self, candidates: Mapping[str, str]) -> Params:
        """The point with its defaults filled in and its fields checked against each other (raise
        ValueError saying what is wrong); `candidates` are the config's own kernels by name."""
        return self

    def label(self) -> str:
        return ""

    def family(self) -> str:
        return ""

    def implementation(self) -> str:
        return ""


def param_values(params: Params) -> dict[str, Any]:
    """The parameters as flat values, in their declared order."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


@dataclass(frozen=True)
class JobSpec:
    job: str
    sweep: str
    seed: int
    params: Params

    def label(self) -> str:
        return self.params.label()

    def fields(self) -> dict[str, Any]:
        """What a row says of the question: the shared fields, the three names, then the parameters."""
        p = self.params
        return {"job": self.job, "sweep": self.sweep, "seed": self.seed, "point": p.label(), "family": p.family(),
                "implementation": p.implementation(), **param_values(p)}
