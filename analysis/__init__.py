"""Reading runs back: results as pandas DataFrames, and the reports built from them.

    from analysis import load_runs
    frame = load_runs(["runs/h100", "runs/h200"])   # one tidy frame, a `run` column, versions joined
"""
from analysis.compare import compare
from analysis.frame import load_results, load_runs
from analysis.report import write_report

__all__ = ["compare", "load_results", "load_runs", "write_report"]
