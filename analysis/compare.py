"""`sdpa-bench compare RUN_A RUN_B`: the same points on the same GPU model, B against A.

A change is flagged only when it is larger than both the threshold (default 5%) and the
measured spread of the two runs at that point (the larger relative IQR of the two), so noise is
never called a regression. Exit code 1 when a regression is flagged (with --fail-on regression),
so it can gate CI; two runs with no timed point in common are bad input (exit 2), never a pass.
"""
from __future__ import annotations

import pandas as pd

from analysis.frame import load_results
from base.errors import BadInput
from base.point import POINT_FIELDS, point_label

# `timer` too: a CUDA-graph time and an events time of one point measure different things
KEY = [*POINT_FIELDS, "implementation", "gpu_name", "timer"]


class NothingToCompare(BadInput):
    """The two runs share no timed point; the message says what each holds."""


def timed(run_dir) -> pd.DataFrame:
    """One row per (point, implementation, GPU model): the median over that model's devices."""
    frame = load_results(run_dir)
    ok = frame[(frame["job"] == "sdpa_benchmark") & (frame["status"] == "ok")].copy()
    ok["spread"] = ok["iqr_ms"] / ok["median_ms"]
    return ok.groupby(KEY, dropna=False).agg(median_ms=("median_ms", "median"), tflops=("tflops", "median"),
                                             spread=("spread", "max"),
                                             protocol=("protocol", lambda s: ", ".join(sorted(set(s))))).reset_index()


def compare(run_a, run_b, threshold: float = 0.05) -> pd.DataFrame:
    """Points both runs timed, with B/A time and TFLOPS ratios and a verdict per point."""
    a, b = timed(run_a), timed(run_b)
    both = a.merge(b, on=KEY, suffixes=("_a", "_b"))
    if both.empty:
        raise NothingToCompare(f"{run_a} ({len(a)} timed points) and {run_b} ({len(b)}) have no timed point in "
                               "common on the same GPU model and implementation; nothing to compare")
    both["time_ratio"] = both["median_ms_b"] / both["median_ms_a"]
    both["tflops_ratio"] = both["tflops_b"] / both["tflops_a"]
    both["noise"] = both[["spread_a", "spread_b"]].max(axis=1)
    change = both["time_ratio"] - 1
    big = (change.abs() > threshold) & (change.abs() > both["noise"])
    both["verdict"] = "same"
    both.loc[big & (change > 0), "verdict"] = "regression"
    both.loc[big & (change < 0), "verdict"] = "improvement"
    return both


def format_table(both: pd.DataFrame) -> str:
    lines = [f"{'GPU':<24}{'implementation':<16}{'point':<44}{'A ms':>9}{'B ms':>9}{'B/A':>7}{'noise':>7}  verdict"]
    for r in both.to_dict("records"):
        lines.append(f"{r['gpu_name'][:23]:<24}{r['implementation'][:15]:<16}{point_label(r)[:43]:<44}"
                     f"{r['median_ms_a']:>9.4g}{r['median_ms_b']:>9.4g}{r['time_ratio']:>7.3f}"
                     f"{100 * r['noise']:>6.1f}%  "
                     f"{r['verdict']}")
    counts = both["verdict"].value_counts()
    lines.append(f"{len(both)} points in both runs: {counts.get('regression', 0)} regression(s), "
                 f"{counts.get('improvement', 0)} improvement(s), {counts.get('same', 0)} within threshold or noise")
    differ = both[both["protocol_a"] != both["protocol_b"]]
    if not differ.empty:
        pair = differ.iloc[0]
        lines.append(f"Note: {len(differ)} of them were timed by different protocols (A {pair['protocol_a']}, B "
                     f"{pair['protocol_b']}): an adaptive window spans one power-cap cycle, a fixed one about two "
                     "(docs/methods.md)")
    return "\n".join(lines)
