"""Reading runs back: results as pandas DataFrames, and the reports built from them.

    from analysis import load_results
    frame = load_results("runs/smoke")
"""
from analysis.frame import load_results
from analysis.report import write_report

__all__ = ["load_results", "write_report"]
