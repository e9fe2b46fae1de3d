"""Settings the workers read: how to time (`TimingConfig`) and how much memory a job may take
(`MemoryBudget`). Part of the config tree (orchestrator/config.py) and passed to every worker.
Each field's rules (`choices`, `bounded`) are what the config loader enforces; every number must
be finite.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass

from base.fields import bounded, choices
from base.vocab import PROTOCOLS

DAY_S = 86400.0


@dataclass(frozen=True)
class TimingConfig:
    # adaptive: warm up until the GPU's power state settles, time at least one measured cycle of
    # an active power cap, else until the 1% rule holds (needs NVML; without it, fixed). fixed:
    # warmup_ms and min_timed_ms on every point, whatever the state (docs/methods.md)
    protocol: str = choices(*PROTOCOLS, default="adaptive")
    warmup_reps: int = bounded(0, 10**6, default=3)
    # fixed: warm up for at least this long too: plans get built, and a GPU at its power limit gets
    # past its first ~0.8 s after any idle gap, which runs fast before the power cap's first cut
    # (H100, 700 W; docs/methods.md)
    warmup_ms: float = bounded(0, 600_000, default=1000.0)
    # adaptive: the most a warmup waits for the power state to settle (a row says `warmup_max`)
    settle_max_ms: float = bounded(0, 600_000, default=3000.0)
    # adaptive: how many measured cycles of an active cap a window spans. 1: the fastest (points
    # repeated within 2.0% on an H200, docs/methods.md); 2: as long as the fixed protocol's window
    cap_cycles: int = bounded(1, 1000, default=1)
    # adaptive: the window under an active cap before the cycle has been measured on this GPU
    cycle_max_ms: float = bounded(0, 600_000, default=2000.0)
    # 6: the fewest samples whose full range is a 95% CI of the median (1 - 2 * 0.5**6 = 0.97)
    min_reps: int = bounded(6, 10**7, default=10)
    max_reps: int = bounded(6, 10**7, default=5000)
    target_rel_ci: float = bounded(0, 1, default=0.01)
    # fixed: the timed reps must add up to this much before the CI rule may stop them: at its
    # power limit an H100 cycles its clock about once a second (docs/methods.md)
    min_timed_ms: float = bounded(0, 600_000, default=2000.0)
    budget_s: float = bounded(0, DAY_S, default=10.0)  # timed reps of one point, warmup excluded
    flush_l2: bool = True
    cuda_graph: bool = False  # GPU reps replay a CUDA graph of the call (CPU workers ignore it)
    # burst: before the warmup, wait until the card is back at its maximum clock with its power well
    # below the limit (NVML), then time burst_reps reps: the number vendors' tables publish, beside
    # the sustained one (GPU rows with NVML only; docs/methods.md)
    burst: bool = True
    burst_reps: int = bounded(1, 10**4, default=10)
    burst_wait_max_ms: float = bounded(0, 600_000, default=3000.0)


@dataclass(frozen=True)
class MemoryBudget:
    """Cap on what a worker's jobs may allocate, so a large GPU can stand in for a smaller one."""
    fraction: typing.Optional[float] = bounded(0.001, 1.0, default=None)
    gib: typing.Optional[float] = bounded(0.001, 2**20, default=None)
    devices: tuple[str, ...] = ()  # e.g. [cuda:1]; empty: every device
