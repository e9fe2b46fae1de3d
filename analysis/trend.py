"""The report's history: when runs of one GPU model span several dates, each point and
implementation's median time per date, a plot of each implementation's trend, and with a
baseline run the points that moved beyond the noise since it.

A run's date is the day its first session started (manifest.json). A cell of the history is the
median over every ok row of that GPU model, point, implementation and timer on that date (every
device, every run of the day), as the report's other cells are. A point moved when the latest
date's median differs from the baseline run's by more than THRESHOLD and by more than the noise
(the larger relative IQR of the two), the rule `compare` applies to two runs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.cells import CELL
from analysis.compare import verdicts
from analysis.document import Section, Table
from analysis.csvtext import safe_frame
from analysis.plots import draw, trend_figure

THRESHOLD = 0.05  # compare's default
MAX_ROWS = 40  # per GPU model in the report; trend.csv has them all
MAX_MOVED = 100


def run_dates(manifests: dict[str, dict]) -> dict[str, str]:
    """run name -> YYYY-MM-DD its first session started ("" if it has none)."""
    return {run: (m["sessions"][0].get("started_at", "") if m["sessions"] else "")[:10] for run, m in manifests.items()}


def timed_rows(frame: pd.DataFrame, dates: dict[str, str]) -> pd.DataFrame:
    """The ok speed rows, only the columns the history reads (a copy of every column costs seconds at 1M rows)."""
    ok = ((frame["kind"] == "speed") & (frame["status"] == "ok")).fillna(False).to_numpy()
    rows = frame.loc[ok, [*CELL, "run", "median_ms", "iqr_ms"]]
    return rows.assign(date=rows["run"].map(dates), iqr_rel=rows["iqr_ms"] / rows["median_ms"])


def per_date(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per cell and date: the median time, the median relative IQR, how many rows."""
    return rows.groupby([*CELL, "date"], dropna=False, sort=False).agg(
        median_ms=("median_ms", "median"), iqr_rel=("iqr_rel", "median"), n=("median_ms", "size")).reset_index()


def dated_models(history: pd.DataFrame) -> list[str]:
    """GPU models whose runs span more than one date."""
    spans = history.groupby("gpu_name", sort=False)["date"].nunique()
    return [m for m, n in spans.items() if n > 1]


def model_table(mine: pd.DataFrame) -> tuple[Table, int]:
    """Rows (point, implementation), a column per date; the largest moves first, at most MAX_ROWS."""
    wide = mine.pivot_table(index=["sweep", "point", "implementation", "timer"], columns="date", values="median_ms",
                            aggfunc="first", dropna=False, observed=True).sort_index(axis=1)
    dates = list(wide.columns)
    first = wide.bfill(axis=1).iloc[:, 0]
    last = wide.ffill(axis=1).iloc[:, -1]
    ratio = last / first
    wide = wide.assign(ratio=ratio).iloc[np.argsort(-(ratio - 1).abs().fillna(0).to_numpy(), kind="stable")]
    rows = [[f"{sweep}: {point}", impl, *(f"{v:.4g}" if pd.notna(v) else "—" for v in values[:-1]),
             f"{values[-1]:.3f}×" if pd.notna(values[-1]) else "—"]
            for (sweep, point, impl, _), values in zip(wide.index, wide.to_numpy()[:MAX_ROWS])]
    return Table(["point", "implementation", *(f"{d} ms" for d in dates), "last ÷ first"], rows), len(wide)


def moved(rows: pd.DataFrame, baseline_run: str) -> pd.DataFrame:
    """Per cell: the baseline run's median, the latest date's median of the other runs, and the verdict."""
    base = rows[rows["run"] == baseline_run].groupby(CELL, dropna=False)[["median_ms", "iqr_rel"]].median()
    others = rows[rows["run"] != baseline_run]
    latest = others[others["date"] == others.groupby(CELL, dropna=False)["date"].transform("max")]
    now = latest.groupby(CELL, dropna=False).agg(median_ms=("median_ms", "median"), iqr_rel=("iqr_rel", "median"),
                                                  date=("date", "first"))
    both = base.merge(now, left_index=True, right_index=True, suffixes=("_base", "_now")).reset_index()
    both["change"] = both["median_ms_now"] / both["median_ms_base"] - 1
    both["noise"] = both[["iqr_rel_base", "iqr_rel_now"]].max(axis=1)
    both["verdict"] = verdicts(both["change"], both["noise"], THRESHOLD)
    return both


def moved_section(rows: pd.DataFrame, baseline_run: str) -> Section:
    both = moved(rows, baseline_run)
    flagged = both[both["verdict"].isin(["regression", "improvement"])]
    flagged = flagged.iloc[np.argsort(-flagged["change"].abs().to_numpy(), kind="stable")]
    intro = (f"Each point's latest date against the baseline run `{baseline_run}`: flagged where the time moved by "
             f"more than {100 * THRESHOLD:g}% and more than the noise (the larger relative IQR of the two). "
             f"{len(both)} points compared: {sum(both['verdict'] == 'regression')} slower, "
             f"{sum(both['verdict'] == 'improvement')} faster.")
    if both.empty:
        intro = f"No other run times a point that the baseline run `{baseline_run}` timed: nothing to compare."
    table = Table(["GPU model", "point", "implementation", "baseline ms", "latest ms", "latest date", "change",
                   "noise", "verdict"],
                  [[r["gpu_name"], f"{r['sweep']}: {r['point']}", r["implementation"], f"{r['median_ms_base']:.4g}",
                    f"{r['median_ms_now']:.4g}", r["date"], f"{100 * r['change']:+.1f}%", f"{100 * r['noise']:.1f}%",
                    f"**{'slower' if r['verdict'] == 'regression' else 'faster'}**"]
                   for r in flagged.head(MAX_MOVED).to_dict("records")])
    blocks = [intro, table] if len(flagged) else [intro]
    if len(flagged) > MAX_MOVED:
        blocks.append(f"The {len(flagged) - MAX_MOVED} smaller moves are in trend.csv.")
    return Section(f"Moved since {baseline_run}", blocks, level=3)


def history_sections(frame: pd.DataFrame, manifests: dict[str, dict], baseline_run: str | None,
                     colors: dict[str, tuple], out_dir: Path) -> list[Section]:
    """The history section (and trend.csv in `out_dir`), or nothing when no GPU model spans dates and
    no baseline run is named."""
    rows = timed_rows(frame, run_dates(manifests))
    history = per_date(rows)
    models = dated_models(history)
    if not models and baseline_run is None:
        return []
    safe_frame(history).to_csv(out_dir / "trend.csv", index=False)  # names as text, never a formula
    sections = [Section("History across dates", [
        "Per GPU model whose runs span several dates: each point and implementation's median time per date (the "
        "day a run started), over every device and run of that day; the largest moves first. Every cell is in "
        "trend.csv."])]
    if baseline_run is not None:
        sections.append(moved_section(rows, baseline_run))
    figures = draw("trend plot", trend_figure, history[history["gpu_name"].isin(models)], models, colors,
                   out_dir / "plots")
    sections[0].blocks += figures
    for model in models:
        table, total = model_table(history[history["gpu_name"] == model])
        note = [f"The largest {MAX_ROWS} of {total} moves; every one is in trend.csv."] if total > MAX_ROWS else []
        sections.append(Section(f"History: {model}", [table, *note], level=3))
    return sections

