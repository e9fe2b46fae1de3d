"""The report's unit: one cell per (point, GPU model, implementation), the median over every
device and run of that model there, with how many rows it stands for and how far apart they are.

`timed_cells` keeps the timed ones; `status_cells` says what the others ended as. A point is named
by its job, sweep and label (a label names every parameter but the implementation: base/point.py).
A CUDA-graph time and an events time of one point measure different things, so the timer is part
of the key. Speeds are in each job's own unit (TFLOPS, GB/s), at the cell's median time.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

POINT = ["job", "sweep", "point"]
CELL = [*POINT, "gpu_name", "implementation", "timer"]
CELL_COLUMNS = [*CELL, "family", "x", "x_name", "by", "by_name", "speed_unit", "median_ms", "speed", "pct_of_peak",
                "pct_of_bandwidth", "pct_of_datasheet", "n", "range_rel", "dispatched", "burst_ms", "burst_speed",
                "burst_gap", "burst_clock_mhz", "sm_clock_mhz", "suspect"]
# what timed_cells reads of a row beside its CELL
AGGREGATED = ["family", "x", "x_name", "by", "by_name", "speed_unit", "median_ms", "speed", "pct_of_peak",
              "pct_of_bandwidth", "pct_of_datasheet", "dispatched", "burst_ms", "burst_clock_mhz", "sm_clock_mhz"]


def speed_rows(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """The timed jobs' rows; only `columns` where given (a copy of every column costs seconds at 1M rows)."""
    speed = (frame["kind"] == "speed").fillna(False).to_numpy()
    return frame.loc[speed, columns] if columns is not None else frame[speed]


def timed_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cell: median ms, speed and % of the device's ceilings over its ok rows, `n` rows,
    `range_rel` ((max - min) over the median), the kernel family `default` dispatched to, the burst
    figures, and `suspect` where the speed is above the device's measured ceiling."""
    ok = speed_rows(frame, [*CELL, *AGGREGATED, "status"])
    ok = ok[(ok["status"] == "ok") & ok["median_ms"].notna()]  # a job may end ok without timing its point
    if ok.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    ok = ok.assign(work=ok["speed"] * ok["median_ms"])  # the call's FLOPs or bytes: the same for every row of a cell
    cells = ok.groupby(CELL, dropna=False, sort=False).agg(
        family=("family", "first"), x=("x", "first"), x_name=("x_name", "first"), by=("by", "first"),
        by_name=("by_name", "first"),
        speed_unit=("speed_unit", "first"), median_ms=("median_ms", "median"), work=("work", "median"),
        pct_of_peak=("pct_of_peak", "median"), pct_of_bandwidth=("pct_of_bandwidth", "median"),
        pct_of_datasheet=("pct_of_datasheet", "median"), n=("median_ms", "size"), low=("median_ms", "min"),
        high=("median_ms", "max"), dispatched=("dispatched", "last"), burst_ms=("burst_ms", "median"),
        burst_clock_mhz=("burst_clock_mhz", "median"), sm_clock_mhz=("sm_clock_mhz", "median")).reset_index()
    cells["speed"] = cells["work"] / cells["median_ms"]
    cells["burst_speed"] = cells["work"] / cells["burst_ms"]
    cells["burst_gap"] = cells["median_ms"] / cells["burst_ms"]
    cells["range_rel"] = (cells["high"] - cells["low"]) / cells["median_ms"]
    cells["suspect"] = (cells["pct_of_bandwidth"] > 100) | (cells["pct_of_peak"] > 100)
    return cells[CELL_COLUMNS]


def status_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (point, GPU model, implementation) with rows that failed: `text`, e.g. "oom" or
    "unsupported ×2, oom"."""
    keys = [*POINT, "gpu_name", "implementation"]
    rows = speed_rows(frame, [*keys, "status"])
    bad = rows[rows["status"] != "ok"]
    counts = bad.groupby([*keys, "status"], dropna=False, sort=False).size().reset_index(name="n")
    counts["text"] = [f"{s} ×{n}" if n > 1 else str(s) for s, n in zip(counts["status"], counts["n"])]
    return counts.groupby(keys, dropna=False, sort=False)["text"].agg(", ".join).reset_index()


def geomean(values: pd.Series) -> float:
    return float(np.exp(np.log(values.astype("float64")).mean())) if len(values) else float("nan")


def per_model(cells: pd.DataFrame, value: str) -> pd.DataFrame:
    """(point, implementation, timer) x GPU model table of one cell value."""
    return cells.pivot_table(index=[*POINT, "implementation", "timer"], columns="gpu_name", values=value,
                             aggfunc="first", dropna=False, observed=True)
