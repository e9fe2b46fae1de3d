"""Settings the workers read: how to time (`TimingConfig`) and how much memory a job may take
(`MemoryBudget`). Part of the config tree (orchestrator/config.py) and passed to every worker.
`min` and `max` metadata are the bounds the config loader enforces; every number must be finite.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field

from base.vocab import PROTOCOLS

DAY_S = 86400.0


def bounded(default, low, high):
    return field(default=default, metadata={"min": low, "max": high})


@dataclass(frozen=True)
class TimingConfig:
    # adaptive: warm up until the GPU's power state settles, time at least one measured cycle of
    # an active power cap, else until the 1% rule holds (needs NVML; without it, fixed). fixed:
    # warmup_ms and min_timed_ms on every point, whatever the state (docs/methods.md)
    protocol: str = field(default="adaptive", metadata={"choices": PROTOCOLS})
    warmup_reps: int = bounded(3, 0, 10**6)
    # fixed: warm up for at least this long too: plans get built, and a GPU at its power limit gets
    # past its first ~0.8 s after any idle gap, which runs fast before the power cap's first cut
    # (H100, 700 W; docs/methods.md)
    warmup_ms: float = bounded(1000.0, 0, 600_000)
    # adaptive: the most a warmup waits for the power state to settle (a row says `warmup_max`)
    settle_max_ms: float = bounded(3000.0, 0, 600_000)
    # adaptive: how many measured cycles of an active cap a window spans. 1: the fastest (points
    # repeated within 2.0% on an H200, docs/methods.md); 2: as long as the fixed protocol's window
    cap_cycles: int = bounded(1, 1, 1000)
    # adaptive: the window under an active cap before the cycle has been measured on this GPU
    cycle_max_ms: float = bounded(2000.0, 0, 600_000)
    # 6: the fewest samples whose full range is a 95% CI of the median (1 - 2 * 0.5**6 = 0.97)
    min_reps: int = bounded(10, 6, 10**7)
    max_reps: int = bounded(5000, 6, 10**7)
    target_rel_ci: float = bounded(0.01, 0, 1)
    # fixed: the timed reps must add up to this much before the CI rule may stop them: at its
    # power limit an H100 cycles its clock about once a second (docs/methods.md)
    min_timed_ms: float = bounded(2000.0, 0, 600_000)
    budget_s: float = bounded(10.0, 0, DAY_S)  # timed reps of one point, warmup excluded
    flush_l2: bool = True
    cuda_graph: bool = False  # GPU reps replay a CUDA graph of the call (CPU workers ignore it)


@dataclass(frozen=True)
class MemoryBudget:
    """Cap on what a worker's jobs may allocate, so a large GPU can stand in for a smaller one."""
    fraction: typing.Optional[float] = bounded(None, 0.001, 1.0)
    gib: typing.Optional[float] = bounded(None, 0.001, 2**20)
    devices: tuple[str, ...] = ()  # e.g. [cuda:1]; empty: every device
