"""Report sections that look across the whole run: summary, cross-GPU comparison, failure counts."""
from __future__ import annotations

import datetime

import pandas as pd

from analysis.frame import SHAPE_COLUMNS

POINT = [c for c in SHAPE_COLUMNS if c != "sweep"]


def summary_lines(frame: pd.DataFrame, manifest: dict) -> list[str]:
    """Devices by model and node, versions, points by status, wall time."""
    devices = pd.DataFrame(manifest["sessions"][-1]["devices"])
    models = devices.groupby("gpu_name").agg(count=("device", "size"), nodes=("node", "nunique"))
    stamps = pd.to_datetime(frame["finished_at"], format="ISO8601", errors="coerce")
    started = datetime.datetime.fromisoformat(manifest["sessions"][0]["started_at"])
    wall = (stamps.max().to_pydatetime() - started).total_seconds() if stamps.notna().any() else float("nan")
    versions = manifest["sessions"][-1]["versions"]
    counts = ", ".join(f"{s} {n}" for s, n in frame["status"].value_counts().items()) or "none"
    timers = ", ".join(f"{t} {n}" for t, n in frame["timer"].value_counts().items()) or "none"
    return ["| GPU model | devices | nodes |", "|---|---|---|",
            *[f"| {m} | {r['count']} | {r['nodes']} |" for m, r in models.iterrows()], "",
            f"Jobs by status: {counts}. Timed rows by timer: {timers}. Wall time: {wall:.0f} s. "
            f"Driver: Python {versions['python']}, Ray {versions['ray']}, torch {versions['torch']}.", ""]


def cross_device_lines(frame: pd.DataFrame) -> list[str]:
    """Per backend, each GPU model's median time relative to the first model, on shared points;
    and whether the fastest backend differs between models."""
    ok = frame[(frame["job"] == "sdpa_benchmark") & (frame["status"] == "ok")]
    models = list(dict.fromkeys(ok["gpu_name"]))
    if len(models) < 2:
        return ["One GPU model in this run: nothing to compare across models.", ""]
    per_model = ok.groupby(POINT + ["backend", "gpu_name"])["median_ms"].median().unstack("gpu_name")
    shared = per_model.dropna()  # (point, backend) pairs every model ran: the ratios' basis
    base = models[0]
    ratio = shared.div(shared[base], axis=0).groupby("backend").median()
    lines = [f"Median time relative to {base} (lower is faster), over the points every model ran:", "",
             "| backend | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    lines += [f"| {b} | " + " | ".join(f"{r[m]:.2f}×" for m in models) + " |" for b, r in ratio.iterrows()]
    # each model's fastest from all it ran at a point (a backend one model lacks counts too)
    ran = per_model.notna().groupby(level=POINT).any().all(axis=1)
    best = per_model[ran.reindex(per_model.index.droplevel("backend")).to_numpy()].groupby(level=POINT).idxmin()
    differs = sum(len({best.loc[p, m][-1] for m in models}) > 1 for p in best.index)
    lines += ["", f"The fastest backend differs between GPU models at {differs} of {len(best)} shared points.", ""]
    return lines


def failure_count_lines(frame: pd.DataFrame) -> list[str]:
    """Device × backend: how many jobs ended oom, unsupported, crashed, timeout, skipped, error."""
    bad = frame[frame["status"] != "ok"]
    if bad.empty:
        return []
    counts = bad.groupby(["device_label", "backend", "status"]).size()
    cells = counts.groupby(level=["device_label", "backend"]).apply(
        lambda c: ", ".join(f"{status} {n}" for (_, _, status), n in c.items())).unstack("backend").fillna("")
    return ["| device | " + " | ".join(cells.columns) + " |", "|---" * (len(cells.columns) + 1) + "|",
            *[f"| {d} | " + " | ".join(row) + " |" for d, row in zip(cells.index, cells.values)], ""]
