"""What a job hands back (`Outcome`), and how it says a backend cannot run a point (`Unsupported`).
What it is asked to do is a `base.point.JobSpec`."""
from __future__ import annotations

from dataclasses import dataclass, field

from base.schema import Metrics


class Unsupported(Exception):
    """The backend cannot run this point on this device; the message is the library's reason."""


@dataclass(frozen=True)
class Outcome:
    """A job's answer: flat metrics (keys declared in jobs.JOBS) and raw timing samples."""
    metrics: Metrics = field(default_factory=dict)
    samples_ms: tuple[float, ...] = ()
