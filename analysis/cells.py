"""The report's unit: one cell per (point, GPU model, implementation), the median over every
device and run of that model there, with how many rows it stands for and how far apart they are.

`timed_cells` keeps the timed ones; `status_cells` says what the others ended as. A CUDA-graph
time and an events time of one point measure different things, so the timer is part of the key.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from base.point import POINT_FIELDS

POINT = ["sweep", *POINT_FIELDS]
CELL = [*POINT, "gpu_name", "implementation", "timer"]
FAMILY = ["dtype", "head_dim", "causal", "mode"]  # a shape family: one curve over seq_len


def benchmark_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["job"] == "sdpa_benchmark"]


def timed_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cell: median ms, TFLOPS and % of peak over its ok rows, `n` rows, `spread` (max - min)
    over the median, and the kernel family `default` dispatched to."""
    ok = benchmark_rows(frame)
    ok = ok[ok["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=[*CELL, "median_ms", "tflops", "pct_of_peak", "n", "spread", "dispatched"])
    ok = ok.assign(gflop=ok["tflops"] * ok["median_ms"])  # the call's work: the same for every row of a cell
    cells = ok.groupby(CELL, dropna=False, sort=False).agg(
        median_ms=("median_ms", "median"), gflop=("gflop", "median"), pct_of_peak=("pct_of_peak", "median"),
        n=("median_ms", "size"), low=("median_ms", "min"), high=("median_ms", "max"),
        dispatched=("dispatched", "last")).reset_index()
    cells["tflops"] = cells["gflop"] / cells["median_ms"]  # at the cell's median time, not a median of rates
    cells["spread"] = (cells["high"] - cells["low"]) / cells["median_ms"]
    return cells.drop(columns=["low", "high", "gflop"])


def status_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (point, GPU model, implementation) with rows that failed: `text`, e.g. "oom" or
    "unsupported ×2, oom"."""
    rows = benchmark_rows(frame)
    bad = rows[rows["status"] != "ok"]
    keys = [*POINT, "gpu_name", "implementation"]
    counts = bad.groupby([*keys, "status"], dropna=False, sort=False).size().reset_index(name="n")
    counts["text"] = [f"{s} ×{n}" if n > 1 else str(s) for s, n in zip(counts["status"], counts["n"])]
    return counts.groupby(keys, dropna=False, sort=False)["text"].agg(", ".join).reset_index()


def geomean(values: pd.Series) -> float:
    return float(np.exp(np.log(values.astype("float64")).mean())) if len(values) else float("nan")


def per_model(cells: pd.DataFrame, value: str) -> pd.DataFrame:
    """(point, implementation, timer) x GPU model table of one cell value."""
    return cells.pivot_table(index=[*POINT, "implementation", "timer"], columns="gpu_name", values=value,
                             aggfunc="first", dropna=False, observed=True)
