"""The report of one or more runs: results.parquet and results.csv for tools, report.md and a
self-contained report.html for people, plots/ beside them.

Built once as a list of sections (analysis.document), rendered twice. First a headline a person
reads in one screen, then what might confound it, then every point. Runs from any machines and
dates combine: rows are compared by GPU model, implementation and point.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analysis.cells import timed_cells
from analysis.clocks import clocks_section
from analysis.csvtext import safe_table
from analysis.document import Section, to_html, to_markdown
from analysis.frame import load_runs, run_names
from analysis.headline import confounder_section, headline_section, speedups
from analysis.plots import correctness_figure, draw, palette, speed_figures, speedup_figure
from analysis.sections import correctness_sections, device_section, failure_section, speed_sections
from analysis.trend import history_sections
from base.errors import BadInput
from base.outputs import Staged, check_folder
from base.rundir import RunDir


def summary_section(frame: pd.DataFrame, manifests: dict[str, dict]) -> Section:
    counts = ", ".join(f"{s} {n}" for s, n in frame["status"].value_counts().items()) or "none"
    timers = ", ".join(f"{t} {n}" for t, n in frame["timer"].value_counts().items()) or "none"
    jobs = frame["run"].value_counts()
    lines = [f"`{run}`: {jobs.get(run, 0)} jobs, {len(m['sessions'])} session(s), started "
             f"{m['sessions'][0]['started_at'] if m['sessions'] else '—'}" for run, m in manifests.items()]
    empty = [] if len(frame) else ["**This run has no finished job**: it was stopped before its first job ended, "
                                   "or no device could run its sweeps. Nothing below is measured."]
    return Section("Runs", [*empty, lines, f"Jobs by status: {counts}. Timed rows by timer: {timers}."])


def choose_baseline(models: list[str], baseline: str | None) -> str:
    if baseline is None:
        return models[0] if models else ""
    if baseline not in models:
        raise BadInput(f"--baseline {baseline!r}: no run has that GPU model; "
                       f"choose one of: {', '.join(models) or 'none'}")
    return baseline


def build(frame: pd.DataFrame, manifests: dict[str, dict], baseline: str | None, plots: Path,
          baseline_run: str | None = None) -> list[Section]:
    cells = timed_cells(frame)
    models = list(dict.fromkeys(cells["gpu_name"])) if not cells.empty else []
    baseline = choose_baseline(models or list(dict.fromkeys(frame["gpu_name"])), baseline)
    models = [baseline, *[m for m in models if m != baseline]] if models else []
    colors = palette([*frame["implementation"].dropna(), *models])
    figures = (draw("speed plots", speed_figures, cells, models, colors, plots)
               + draw("correctness plot", correctness_figure, frame, colors, plots))
    if len(models) > 1:
        figures = draw("speed-up plot", speedup_figure, speedups(cells, baseline), baseline, colors, plots) + figures
    history = history_sections(frame, manifests, baseline_run, colors, plots.parent)
    return [headline_section(cells, models, baseline), confounder_section(frame, models),
            clocks_section(frame, cells, models), summary_section(frame, manifests),
            Section("Plots", figures or ["No plots for these runs."]), *history, *speed_sections(frame, cells),
            *correctness_sections(frame), failure_section(frame), device_section(manifests)]


def write_tables(frame: pd.DataFrame, out_dir: Path) -> None:
    table = pa.Table.from_pandas(frame.drop(columns=["device_label", "x", "x_name", "by", "by_name"]),
                                 preserve_index=False)
    # the two writers side by side: each is one thread of arrow's that lets go of the GIL (1M rows: 1 s and 3 s)
    with ThreadPoolExecutor(1) as pool:
        parquet = pool.submit(pq.write_table, table, out_dir / "results.parquet")
        pacsv.write_csv(safe_table(table), out_dir / "results.csv")  # pandas' to_csv: 3.5 s at 100k rows, this: 0.3 s
        parquet.result()


def with_baseline_run(run_dirs: list[Path], baseline_run: Path | None) -> tuple[list[Path], str | None]:
    """The runs to report, the baseline run among them (added if it is not), and its name in the report."""
    if baseline_run is None:
        return run_dirs, None
    resolved = [Path(d).resolve() for d in run_dirs]
    if Path(baseline_run).resolve() not in resolved:
        run_dirs = [*run_dirs, Path(baseline_run)]
    index = [Path(d).resolve() for d in run_dirs].index(Path(baseline_run).resolve())
    return run_dirs, run_names([Path(d) for d in run_dirs])[index]


def write_report(run_dirs: list[Path], out_dir: Path | None = None, baseline: str | None = None,
                 baseline_run: Path | None = None) -> Path:
    """Write the report of `run_dirs` into `out_dir` (default: the one run directory); returns report.md.
    With `baseline_run` (one of them, or another run, which joins them) the history flags what moved since it.
    A folder holding what sdpa-bench did not write is refused before anything is written; the files are
    written whole, or the previous report is left as it was (base/outputs.py)."""
    run_dirs, baseline_name = with_baseline_run(list(run_dirs), baseline_run)
    run_dirs = [RunDir(d) for d in run_dirs]
    manifests = {name: d.manifest() for d, name in zip(run_dirs, run_names([d.path for d in run_dirs]))}
    frame = load_runs(run_dirs)  # the same RunDirs: each manifest is read once
    out_dir = Path(out_dir or run_dirs[0].path)
    check_folder(out_dir)
    with Staged(out_dir, "report", optional=("trend.csv",)) as stage:
        (stage.path / "plots").mkdir()
        sections = build(frame, manifests, baseline, stage.path / "plots", baseline_name)
        title = f"sdpa-bench report: {', '.join(manifests)}"
        write_tables(frame, stage.path)
        (stage.path / "report.md").write_text(to_markdown(title, sections, stage.path), encoding="utf-8")
        (stage.path / "report.html").write_text(to_html(title, sections), encoding="utf-8")
        stage.commit()
    return out_dir / "report.md"
