"""The report's clocks section: why a burst and a sustained number of one point differ.

Per GPU model: its maximum SM clock and power limit (the manifest), the clock its timed points ran
at in their burst (the first calls after idle) and in their sustained window (back-to-back calls),
and per shape family the burst-to-sustained gap: the geometric mean over the family's cells of
sustained time / burst time. Only cells with both figures count (GPU rows with NVML, burst on).
"""
from __future__ import annotations

import pandas as pd

from analysis.cells import geomean
from analysis.document import Section, Table, num
from analysis.headline import watts


def clocks_section(frame: pd.DataFrame, cells: pd.DataFrame, models: list[str]) -> Section:
    section = Section("Clocks: burst and sustained")
    both = cells[cells["burst_ms"].notna() & cells["median_ms"].notna()]
    if both.empty:
        section.blocks.append("No timed point has a burst figure in these runs (a CPU, no NVML, or timing.burst off).")
        return section
    section.blocks.append(
        "The headline and the tables are sustained: the card held at its power cap, as a training or serving job "
        "holds it. Vendors' and libraries' tables are mostly burst: a few calls after the card has idled, at its "
        "maximum clock (docs/methods.md). The gap is sustained time ÷ burst time; the clocks are medians over "
        "the model's timed points.")
    rows = []
    for model in [m for m in models if m in set(both["gpu_name"])]:
        mine, env = both[both["gpu_name"] == model], frame[frame["gpu_name"] == model]
        rows.append([model, clock(env["sm_clock_max_mhz"]), clock(mine["burst_clock_mhz"]), clock(mine["sm_clock_mhz"]),
                     watts(env["power_limit_w"]), f"{geomean(mine['burst_gap']):.3f}×", str(len(mine))])
    section.blocks.append(Table(["GPU model", "max SM clock", "burst clock", "sustained clock", "power limit",
                                 "gap (all points)", "points"], rows))
    gaps = both.groupby(["family", "gpu_name"], sort=False)["burst_gap"].agg(geomean).unstack("gpu_name")
    present = [m for m in models if m in gaps.columns]
    section.blocks.append(Table(["shape family", *present], [
        [family, *(f"{gaps.loc[family, m]:.3f}×" if pd.notna(gaps.loc[family, m]) else "—" for m in present)]
        for family in gaps.index]))
    return section


def clock(values: pd.Series) -> str:
    values = values.dropna()
    return "—" if values.empty else f"{num(float(values.median()))} MHz"
