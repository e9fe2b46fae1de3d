"""Text that reaches a reader is escaped for that reader. Sweep names, implementation names and
exceptions' messages come from runs (a foreign run's journal holds anything): in report.md they
carry no HTML, break no table and start no heading; in results.csv and compare.csv no cell is a
live formula; in a plot a `$` is a dollar sign, never mathtext; and a plot matplotlib cannot draw
is a line in the report, never its end."""
import csv
import re

import pandas as pd
import pyarrow as pa

from analysis.csvtext import safe_table
from analysis.report import write_report
from orchestrator.cli import main
from tests.conftest import synthetic_row, write_run

HOSTILE_SWEEP = "<script>alert(1)</script>"
HOSTILE_IMPL = '<img src=x onerror="alert(1)">'
HOSTILE_ERROR = "ValueError: a | b\n# Injected heading\n| forged | row |\n<script>steal()</script>"


def row(impl: str, seq: int, ms: float | None, status: str = "ok", **kw) -> dict:
    timed = {"median_ms": ms, "iqr_ms": 0.0, "tflops": 1 / ms} if ms else {}
    return synthetic_row(**{"job_id": f"{impl}{seq}{status}", "backend": impl, "seq_len": seq, "kv_len": seq,
                            "status": status, **timed, **kw})


def hostile_run(tmp_path):
    rows = [row(impl, seq, 1.0 * seq, sweep=HOSTILE_SWEEP) for impl in ("math", HOSTILE_IMPL) for seq in (16, 32)]
    rows += [row(HOSTILE_IMPL, 64, None, status="error", sweep=HOSTILE_SWEEP, error=HOSTILE_ERROR),
             row("math", 64, None, status="error", error="=HYPERLINK(\"http://evil\",\"click\")"),
             row("math", 128, None, status="error", error="+cmd|' /C calc'!A0"),
             row("math", 256, None, status="error", error="@SUM(1+1)*cmd|' /C calc'!A0"),
             row("math", 512, None, status="error", error="-2+3+cmd|' /C calc'!A0")]
    return write_run(tmp_path / "run", rows)


def test_report_md_carries_no_html_breaks_no_table_and_starts_no_heading(tmp_path):
    report = write_report([hostile_run(tmp_path)]).read_text()
    assert "<script" not in report and "<img" not in report  # as text: &lt;script&gt;
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report and "&lt;img src=x onerror=" in report
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert not any("Injected" in h for h in headings), headings
    for table in re.findall(r"(?:^\|.*\|$\n?)+", report, flags=re.M):
        lines = table.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
        assert len(widths) == 1, lines  # every row of every table has its header's cells
    assert "| forged | row |" not in report
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<script>" not in page and "<img src=x" not in page


def test_results_csv_holds_no_live_formula_and_numbers_stay_numbers(tmp_path):
    run_dir = hostile_run(tmp_path)
    write_report([run_dir])
    with open(run_dir / "results.csv", newline="") as f:
        cells = [cell for line in csv.reader(f) for cell in line]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")], [c for c in cells if c[:1] in ("=", "+", "@")]
    assert "'=HYPERLINK(\"http://evil\",\"click\")" in cells and "'-2+3+cmd|' /C calc'!A0" in cells
    frame = pd.read_csv(run_dir / "results.csv")
    assert frame["median_ms"].dtype == "float64"  # the numbers are untouched
    assert set(pd.read_parquet(run_dir / "results.parquet")["error"]) >= {"=HYPERLINK(\"http://evil\",\"click\")"}


def test_compare_csv_holds_no_live_formula(tmp_path):
    a = write_run(tmp_path / "a", [row("=cmd", 16, 1.0), row("=cmd", 32, 2.0)])
    b = write_run(tmp_path / "b", [row("=cmd", 16, 1.0), row("=cmd", 32, 2.0)])
    assert main(["compare", str(a), str(b)]) == 0
    frame = pd.read_csv(b / "compare.csv")
    assert set(frame["implementation"]) == {"'=cmd"} and frame["time_ratio"].dtype == "float64"


def test_a_name_with_dollar_signs_is_drawn_as_written(tmp_path):
    names = ["$\\frac{$", "cost $5 $10", "flash"]
    run_dir = write_run(tmp_path / "run", [row(n, s, 1.0 * s) for n in names for s in (16, 32, 64)])
    report = write_report([run_dir]).read_text()
    assert "could not be drawn" not in report and (run_dir / "plots" / "speed_0.png").stat().st_size > 0
    assert "![TFLOPS against seq_len: float16 d1 non-causal fwd](plots/speed_0.png)" in report


def test_a_plot_matplotlib_cannot_draw_is_a_line_in_the_report(tmp_path):
    """A correctness row whose error is 1e308 times the formula's (finite, as JSON holds it): the
    plot's axis would end at twice that, infinity, which matplotlib refuses; the report says so in
    that plot's place and goes on."""
    rows = [row("flash", s, 1.0 * s) for s in (16, 32)]
    rows += [synthetic_row(job_id=f"check{s}", job="causal_correctness", backend="flash", seq_len=s, passed=False,
                           check="FAIL", err_ratio=1e308, max_abs_err=1.0) for s in (16, 32)]
    report = write_report([write_run(tmp_path / "run", rows)]).read_text()
    assert "The correctness plot could not be drawn: ValueError: Axis limits cannot be NaN or Inf" in report
    assert "![TFLOPS against seq_len: float16 d1 non-causal fwd](plots/speed_0.png)" in report
    assert "## Correctness per point" in report and "## Devices" in report


def test_safe_table_quotes_each_formula_cell_of_a_text_column_only():
    """Only a column holding a risky value is rewritten; in it every risky cell is quoted, other cells
    and empty ones stay as they were, and a number column is never touched."""
    table = pa.table({"error": ["ok", None, "=1+1", "\tx", "\rx", "a-b", "-2"], "plain": ["a", "b", "c", None, "", "d", "e"],
                      "ms": [-1.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    safe = safe_table(table)
    assert safe["error"].to_pylist() == ["ok", None, "'=1+1", "'\tx", "'\rx", "a-b", "'-2"]
    assert safe["plain"].to_pylist() == table["plain"].to_pylist() and safe["ms"].to_pylist()[0] == -1.5
