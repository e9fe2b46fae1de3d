"""`sdpa-bench compare RUN_A RUN_B`: the same points on the same GPU model, B against A.

A change is flagged only when it is larger than both the threshold (default 5%) and the
measured noise of the two runs at that point (the larger relative IQR of the two), so noise is
never called a regression. Sustained times are compared with sustained times, burst times with
burst times (`burst_ratio`, `burst_verdict`: the threshold alone, a burst has too few reps for an
IQR), never one with the other. Exit code 1 when a sustained regression is flagged (with --fail-on
regression), so it can gate CI; two runs with no timed point in common are bad input (exit 2),
never a pass.
"""
from __future__ import annotations

import pandas as pd

from analysis.csvtext import safe_frame
from analysis.frame import load_results
from base.errors import BadInput
from base.outputs import Staged, check_file
from base.rundir import RunDir

# `timer` too: a CUDA-graph time and an events time of one point measure different things
KEY = ["job", "point", "implementation", "gpu_name", "timer"]


class NothingToCompare(BadInput):
    """The two runs share no timed point; the message says what each holds."""


def timed(run_dir) -> pd.DataFrame:
    """One row per (point, implementation, GPU model): the median over that model's devices, with
    the point's parameters."""
    run_dir = RunDir(run_dir)
    frame = load_results(run_dir)
    ok = frame[(frame["kind"] == "speed") & (frame["status"] == "ok")].copy()
    ok["iqr_rel"] = ok["iqr_ms"] / ok["median_ms"]
    params = dict.fromkeys(p for job in run_dir.schema()["jobs"].values() for p in job["params"] if p not in KEY)
    return ok.groupby(KEY, dropna=False).agg(
        median_ms=("median_ms", "median"), speed=("speed", "median"), speed_unit=("speed_unit", "first"),
        burst_ms=("burst_ms", "median"), iqr_rel=("iqr_rel", "max"),
        protocol=("protocol", lambda s: ", ".join(sorted(set(s.dropna())))),
        **{p: (p, "first") for p in params}).reset_index()


def verdicts(change: pd.Series, noise: pd.Series | float, threshold: float) -> pd.Series:
    big = (change.abs() > threshold) & (change.abs() > noise)
    out = pd.Series("same", index=change.index)
    out[big & (change > 0)] = "regression"
    out[big & (change < 0)] = "improvement"
    return out.where(change.notna(), "")


def compare(run_a, run_b, threshold: float = 0.05) -> pd.DataFrame:
    """Points both runs timed, with B/A time and speed ratios and a verdict per point."""
    a, b = timed(run_a), timed(run_b)
    measured = ["median_ms", "speed", "speed_unit", "burst_ms", "iqr_rel", "protocol"]
    both = a.merge(b[[*KEY, *measured]], on=KEY, suffixes=("_a", "_b"))  # the point's parameters: A's
    if both.empty:
        raise NothingToCompare(f"{run_a} ({len(a)} timed points) and {run_b} ({len(b)}) have no timed point in "
                               "common on the same GPU model and implementation; nothing to compare")
    both["time_ratio"] = both["median_ms_b"] / both["median_ms_a"]
    both["speed_ratio"] = both["speed_b"] / both["speed_a"]
    both["noise"] = both[["iqr_rel_a", "iqr_rel_b"]].max(axis=1)
    both["verdict"] = verdicts(both["time_ratio"] - 1, both["noise"], threshold)
    both["burst_ratio"] = both["burst_ms_b"] / both["burst_ms_a"]
    both["burst_verdict"] = verdicts(both["burst_ratio"] - 1, 0.0, threshold)
    return both


def format_table(both: pd.DataFrame) -> str:
    lines = [f"{'GPU':<24}{'implementation':<16}{'point':<44}{'A ms':>9}{'B ms':>9}{'B/A':>7}{'noise':>7}  verdict"
             f"{'burst B/A':>11}"]
    for r in both.to_dict("records"):
        burst = f"{r['burst_ratio']:>11.3f} {r['burst_verdict']}" if pd.notna(r["burst_ratio"]) else ""
        lines.append(f"{r['gpu_name'][:23]:<24}{r['implementation'][:15]:<16}{r['point'][:43]:<44}"
                     f"{r['median_ms_a']:>9.4g}{r['median_ms_b']:>9.4g}{r['time_ratio']:>7.3f}"
                     f"{100 * r['noise']:>6.1f}%  {r['verdict']:<11}{burst}")
    counts = both["verdict"].value_counts()
    lines.append(f"{len(both)} points in both runs: {counts.get('regression', 0)} regression(s), "
                 f"{counts.get('improvement', 0)} improvement(s), {counts.get('same', 0)} within threshold or noise "
                 "(sustained)")
    bursts = both["burst_verdict"].value_counts()
    if both["burst_ratio"].notna().any():
        lines.append(f"Burst: {bursts.get('regression', 0)} regression(s), {bursts.get('improvement', 0)} "
                     f"improvement(s), {bursts.get('same', 0)} within threshold")
    differ = both[both["protocol_a"] != both["protocol_b"]]
    if not differ.empty:
        pair = differ.iloc[0]
        lines.append(f"Note: {len(differ)} of them were timed by different protocols (A {pair['protocol_a']}, B "
                     f"{pair['protocol_b']}): an adaptive window spans one power-cap cycle, a fixed one about two "
                     "(docs/methods.md)")
    return "\n".join(lines)


def write_csv(both: pd.DataFrame, path) -> None:
    """The ratio table as CSV at `path`: a new file, or one compare wrote (never a run's own files)."""
    check_file(path, "compare")
    with Staged(path.parent, "compare") as stage:
        safe_frame(both).to_csv(stage.path / path.name, index=False)
        stage.commit()
