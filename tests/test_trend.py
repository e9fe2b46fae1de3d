"""The report's history across dates: medians per date computed by hand, the trend plot, a baseline
run's flags (a planted 20% slowdown flagged, a change inside the noise not); and, on real runs of
the CPU smoke config on three dates, the same. Plus the report's figures: one color per
implementation in every figure, and no figure that draws its own caption."""
import json
from pathlib import Path

import pytest

from analysis.report import write_report
from tests.conftest import run_cli, synthetic_row, write_run

G = "NVIDIA H200"


def row(run, seq, backend, ms, iqr=0.01, device="cuda:0", **kw):
    return synthetic_row(job_id=f"{run}{seq}{backend}{device}", gpu_name=G, device=device, gpu_uuid=device,
                         backend=backend, seq_len=seq, kv_len=seq, median_ms=ms, iqr_ms=iqr * ms, tflops=10 / ms, **kw)


def dated(run_dir: Path, date: str) -> Path:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for session in manifest["sessions"]:
        session["started_at"] = f"{date}T03:00:00+00:00"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


def nightly(tmp_path, slow=1.2, noisy=0.3) -> list[Path]:
    """Three dates; flash at s512 gets `slow`x slower on the last; math at s512 moves 10% inside its 30% IQR."""
    runs = []
    for i, date in enumerate(["2026-11-28", "2026-11-29", "2026-11-30"]):
        last = i == 2
        rows = [row(i, 512, "flash", 1.0 * (slow if last else 1.0)), row(i, 1024, "flash", 4.0 + 0.01 * i),
                row(i, 512, "math", 8.0 * (1.1 if last else 1.0), iqr=noisy), row(i, 1024, "math", 30.0),
                row(i, 512, "flash", 1.0 * (slow if last else 1.0), device="cuda:1")]
        runs.append(dated(write_run(tmp_path / f"night{i}", rows), date))
    return runs


def test_no_history_section_when_every_run_is_of_one_date(tmp_path):
    runs = nightly(tmp_path)
    for run in runs:
        dated(run, "2026-11-28")
    report = write_report(runs, tmp_path / "out").read_text()
    assert "History across dates" not in report and not (tmp_path / "out" / "trend.csv").exists()


def test_a_report_without_history_removes_the_trend_csv_of_the_report_before_it(tmp_path):
    runs = nightly(tmp_path)
    write_report(runs, tmp_path / "out")
    assert (tmp_path / "out" / "trend.csv").is_file()
    write_report(runs[:1], tmp_path / "out")  # one date: no history
    assert not (tmp_path / "out" / "trend.csv").exists()
    assert "trend.csv" not in (tmp_path / "out" / "sdpa-bench-outputs.json").read_text()


def test_trend_csv_holds_a_formula_like_name_as_text(tmp_path):
    runs = []
    for i, date in enumerate(["2026-11-28", "2026-11-29"]):
        runs.append(dated(write_run(tmp_path / f"n{i}", [row(i, 512, "flash", 1.0, sweep="=HYPERLINK(1)")]), date))
    write_report(runs, tmp_path / "out")
    text = (tmp_path / "out" / "trend.csv").read_text()
    assert "'=HYPERLINK(1)" in text and ",=HYPERLINK" not in text


def test_the_median_per_date_and_the_largest_move_first(tmp_path):
    report = write_report(nightly(tmp_path), tmp_path / "out").read_text()
    section = report[report.index("## History across dates"):]
    assert "![Time per call across dates, NVIDIA H200" in section and (tmp_path / "out/plots/trend.png").is_file()
    table = [line for line in section[section.index(f"### History: {G}"):].splitlines() if line.startswith("| ")]
    assert table[0] == "| point | implementation | 2026-11-28 ms | 2026-11-29 ms | 2026-11-30 ms | last ÷ first |"
    assert table[1] == "| s: b1 h1 s512 d1 float16 fwd | flash | 1 | 1 | 1.2 | 1.200× |"  # both devices: median 1.2
    assert table[2] == "| s: b1 h1 s512 d1 float16 fwd | math | 8 | 8 | 8.8 | 1.100× |"
    trend = (tmp_path / "out" / "trend.csv").read_text().splitlines()
    assert len(trend) == 1 + 4 * 3  # 4 cells x 3 dates


def test_a_baseline_run_flags_a_20_percent_slowdown_and_not_a_move_inside_the_noise(tmp_path):
    runs = nightly(tmp_path)
    report = write_report(runs, tmp_path / "out", baseline_run=runs[0]).read_text()
    moved = report[report.index("### Moved since night0"):report.index("### History: ")]
    assert "4 points compared: 1 slower, 0 faster" in moved
    assert f"| {G} | s: b1 h1 s512 d1 float16 fwd | flash | 1 | 1.2 | 2026-11-30 | +20.0% | 1.0% | **slower** |" in moved
    assert "| math |" not in moved  # +10%, but its IQR is 30%


def test_a_baseline_run_not_among_the_runs_joins_them(tmp_path):
    runs = nightly(tmp_path)
    report = write_report(runs[1:], tmp_path / "out", baseline_run=runs[0]).read_text()
    assert "### Moved since night0" in report and "`night0`: 5 jobs" in report


def test_an_implementation_keeps_one_color_in_every_figure_and_no_figure_draws_its_caption(tmp_path):
    from analysis.document import Figure
    from analysis.frame import load_runs, run_names
    from analysis.report import build
    from base.rundir import RunDir

    h100 = [synthetic_row(job_id=f"a{b}{s}", gpu_name="NVIDIA H100", backend=b, seq_len=s, kv_len=s,
                          median_ms=2.0 * s / 512, iqr_ms=0.01, tflops=5.0) for b in ("flash", "math", "cudnn")
            for s in (512, 1024)]
    checks = [synthetic_row(job_id=f"c{b}", job="causal_correctness", gpu_name=G, backend=b, passed=True, check="pass",
                            err_ratio=1.1, max_abs_err=1e-3) for b in ("cudnn", "flash", "flex")]
    runs = [*nightly(tmp_path), dated(write_run(tmp_path / "h100", h100), "2026-11-30"),
            dated(write_run(tmp_path / "checks", checks), "2026-11-30")]
    names = run_names(runs)
    (tmp_path / "plots").mkdir()
    sections = build(load_runs(runs), {n: RunDir(r).manifest() for n, r in zip(names, runs)}, None, tmp_path / "plots",
                     names[0])
    drawn = [b for s in sections for b in s.blocks if isinstance(b, Figure)]
    assert {f.path.name for f in drawn} >= {"speedup.png", "correctness.png", "trend.png", "speed_0.png"}
    colors: dict[str, set] = {}
    for figure in drawn:
        for label, color in figure.legend.items():
            colors.setdefault(label, set()).add(color)
        assert figure.title not in figure.titles  # the caption is printed once, under the figure
        assert not any(figure.titles.count(t) > 1 for t in figure.titles)
    assert {"flash", "math", "cudnn", "flex"} <= set(colors)
    assert all(len(c) == 1 for c in colors.values()), colors  # one color per name, in every figure
    assert len({next(iter(c)) for c in colors.values()}) == len(colors)  # and no two names share one


@pytest.mark.integration
def test_three_smoke_runs_on_three_dates_show_the_history_and_flag_a_planted_slowdown(tmp_path):
    runs = []
    for i, date in enumerate(["2026-11-28", "2026-11-29", "2026-11-30"]):
        run = tmp_path / f"smoke{i}"
        proc = run_cli("run", "-c", "configs/smoke.yaml", "-o", str(run))
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(dated(run, date))
    first = [json.loads(line) for line in (runs[0] / "results.jsonl").read_text().splitlines()]
    timed = [r for r in first if r["status"] == "ok"]
    steady = min(timed, key=lambda r: r["iqr_ms"] / r["median_ms"])  # the planted change must be beyond its noise
    assert steady["iqr_ms"] / steady["median_ms"] < 0.2, "every smoke point was noisier than 20% on this machine"
    journal = runs[2] / "results.jsonl"
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    for r in rows:  # the last night's row of that point: 20% slower than the first night's
        if r["job_id"] == steady["job_id"]:
            r.update(median_ms=1.2 * steady["median_ms"], iqr_ms=1.2 * steady["iqr_ms"], tflops=steady["tflops"] / 1.2)
    journal.write_text("".join(json.dumps(r) + "\n" for r in rows))

    proc = run_cli("report", *map(str, runs), "-o", str(tmp_path / "out"), "--baseline-run", str(runs[0]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## History across dates" in report and "2026-11-28 ms | 2026-11-29 ms | 2026-11-30 ms" in report
    moved = report[report.index("### Moved since smoke0"):report.index("### History: ")]
    planted = next(line for line in moved.splitlines() if f"{steady['sweep']}: {steady['point']} |" in line
                   and f"| {steady['implementation']} |" in line)
    assert "| +20.0% |" in planted and planted.endswith("| **slower** |")
