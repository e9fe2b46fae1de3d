"""The rules a config field declares about its values, read by the config loader.

`choices` lists the values a field allows; `bounded` gives a number's lowest and highest value.
Every dataclass of the config tree (orchestrator/config.py, base/settings.py) and every job's
parameters (jobs/) declare their fields with these two, so one loader checks them all.
`candidates=True` on a choice lets the config's own `candidates:` names in too (a backend).
`size=True` marks a parameter that grows a point's memory (skip_larger_after_oom reads it);
`derived` one the job fills in from the others, never a grid axis.
"""
from __future__ import annotations

import dataclasses
from typing import Any


def choices(*allowed: Any, default: Any = dataclasses.MISSING, candidates: bool = False) -> Any:
    return dataclasses.field(default=default, metadata={"choices": tuple(allowed), "candidates": candidates})


def bounded(low: float, high: float, default: Any = dataclasses.MISSING, size: bool = False) -> Any:
    return dataclasses.field(default=default, metadata={"min": low, "max": high, "size": size})


def derived(default: Any) -> Any:
    """A parameter the job fills in itself when it resolves a point (not a grid axis)."""
    return dataclasses.field(default=default, metadata={"derived": True})
