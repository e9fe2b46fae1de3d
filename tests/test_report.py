"""The report against numbers computed by hand from the rows: the speed cells, the headline across
runs of two GPU models (fastest per family, geometric-mean speed-ups, where the fastest differs),
the confounders, failures in their cells, the HTML, and loading runs old and new."""
import json
import math
import re

import pandas as pd
import pytest

from analysis import load_runs
from analysis.report import write_report
from orchestrator.cli import main
from tests.conftest import ROOT, device, synthetic_row, write_run

H100, H200 = "NVIDIA H100 80GB HBM3", "NVIDIA H200"


def bench(dev, gpu, backend, seq, ms, status="ok", **kw):
    return synthetic_row(job_id=f"{dev}{gpu}{backend}{seq}{kw.get('mode', '')}", device=dev, gpu_name=gpu, gpu_uuid=dev,
                         backend=backend, seq_len=seq, kv_len=seq, status=status,
                         median_ms=ms if status == "ok" else None, iqr_ms=0.01 if status == "ok" else None,
                         tflops=10 / ms if status == "ok" else None, finished_at="2026-11-25T10:01:40+00:00", **kw)


def table_after(report: str, heading: str) -> list[str]:
    section = report[report.index(heading):]
    return [line for line in section.splitlines() if line.startswith("| ")][:3]


def single_run(tmp_path):
    rows = [bench("cuda:0", H100, "math", 512, 4.0), bench("cuda:0", H100, "flash", 512, 1.0),
            bench("cuda:0", H100, "cudnn", 512, 0.5), bench("cuda:0", H100, "efficient", 512, None,
                                                            status="unsupported", error="no kernel: sm90")]
    run_dir = write_run(tmp_path / "run", rows)
    write_report([run_dir])
    return run_dir


def test_speed_table_numbers_speedups_best_and_failures_in_cells(tmp_path):
    report = (single_run(tmp_path) / "report.md").read_text()
    header, h100 = table_after(report, "### s: b1 h1 s512 d1 float16 fwd")[:2]
    assert header == "| GPU model | math | flash | cudnn | efficient |"
    # flash 4.0 / 1.0 = 4x math, cudnn 8x math and the fastest, so bold; efficient shows its status
    assert h100 == (f"| {H100} | 4 ms · 2.5 TFLOPS | 1 ms · 10 TFLOPS · 4× math | **0.5 ms · 20 TFLOPS · 8× math** "
                    "| unsupported |")
    assert "- **unsupported** `efficient` ×1: no kernel: sm90" in report


def test_speedup_over_default_and_what_default_ran(tmp_path):
    run_dir = write_run(tmp_path / "d", [bench("cuda:0", H100, "default", 512, 1.0, dispatched="cudnn"),
                                         bench("cuda:0", H100, "flash", 512, 2.0)])
    report = write_report([run_dir]).read_text()
    assert "| **1 ms · 10 TFLOPS (→ cudnn)** | 2 ms · 5 TFLOPS · 0.5× default |" in report


def fleet(tmp_path):
    """An H100 run (two devices) and an H200 run, two shape families, three implementations."""
    h100, h200 = [], []
    for seq in (1024, 4096):
        for mode, scale in (("fwd", 1.0), ("fwd_bwd", 3.0)):
            # H100: cudnn fastest; its two devices read 1.0 and 1.2 x the base time
            for dev, f in (("cuda:0", 1.0), ("cuda:1", 1.2)):
                h100 += [bench(dev, H100, "cudnn", seq, 1.0 * scale * f, mode=mode),
                         bench(dev, H100, "fa4", seq, 1.25 * scale * f, mode=mode),
                         bench(dev, H100, "flash", seq, 2.0 * scale * f, mode=mode)]
            # H200: fa4 fastest on fwd, cudnn on fwd_bwd
            fa4 = 0.8 if mode == "fwd" else 2.4
            h200 += [bench("cuda:0", H200, "cudnn", seq, 0.9 * scale, mode=mode),
                     bench("cuda:0", H200, "fa4", seq, fa4 * scale / scale if mode == "fwd" else 2.9, mode=mode),
                     bench("cuda:0", H200, "flash", seq, 1.5 * scale, mode=mode)]
    a = write_run(tmp_path / "h100", h100, [device("cuda:0", H100), device("cuda:1", H100)])
    b = write_run(tmp_path / "h200", h200, [device("cuda:0", H200, torch_version="2.12.0", power_limit_w=1000.0)])
    return a, b


def test_fleet_headline_numbers_by_hand(tmp_path):
    a, b = fleet(tmp_path)
    report = write_report([a, b], tmp_path / "out").read_text()
    head = report[:report.index("## What else differs")]
    # per H100 point the cell is the median over its two devices: (1.0 + 1.2) / 2 = 1.1 x the base time
    # fastest per family: H100 cudnn, 10 / 1.1 TFLOPS on fwd = 9.09; H200 fa4 on fwd (10 / 0.8 = 12.5)
    assert "| float16 d1 non-causal fwd | **cudnn** 9.09 TFLOPS (2 points) | **fa4** 12.5 TFLOPS (2 points) |" in head
    # fwd_bwd: H100 cudnn 10 / 3.3 = 3.03; H200 cudnn 10 / 2.7 = 3.7 (fa4's 2.9 is slower)
    assert "| float16 d1 non-causal fwd_bwd | **cudnn** 3.03 TFLOPS (2 points) | **cudnn** 3.7 TFLOPS (2 points) |" in head
    # speed-up of H200 over H100 on cudnn: 1.1 / 0.9 at every point: 1.22; on flash 1.1 * 2 / 1.5 = 1.47
    assert "| cudnn | 1.00× (4) | 1.22× (4) |" in head
    assert "| flash | 1.00× (4) | 1.47× (4) |" in head
    # fa4: fwd 1.375/0.8 = 1.71875 at 2 points, fwd_bwd 4.125/2.9 = 1.4224 at 2: geometric mean
    fa4 = math.sqrt(1.71875 * 4.125 / 2.9)
    assert f"| fa4 | 1.00× (4) | {fa4:.2f}× (4) |" in head
    # the fastest differs on the two fwd points (cudnn on H100, fa4 on H200), not on fwd_bwd
    assert "differs between GPU models at 2 of 4 points every model timed" in head
    assert f"{H100} `cudnn`, {H200} `fa4`" in head
    # the H100 cells say they are the median of 2 rows, 20% apart
    assert "(n=2, range 18.2%)" in report  # (1.2 - 1.0) / 1.1


def test_fleet_states_its_confounders(tmp_path):
    a, b = fleet(tmp_path)
    report = write_report([a, b], tmp_path / "out").read_text()
    assert "**Warning:** the GPU models compared here ran different software" in report
    # rows without a protocol column come from before it was kept: the fixed protocol
    assert f"| {H100} | 1 | 2 | 2.11.0 | 13.0 | 91900 | 580.1 | — | 700 W | fixed |" in report
    assert f"| {H200} | 1 | 1 | 2.12.0 | 13.0 | 91900 | 580.1 | — | 1000 W | fixed |" in report
    assert "timed by different protocols" not in report
    assert report.index("## Headline") < report.index("## What else differs") < report.index("## Speed per point")


def test_models_timed_by_different_protocols_are_a_confounder(tmp_path):
    a = write_run(tmp_path / "h100", [bench("cuda:0", H100, "cudnn", 512, 1.0, protocol="fixed")])
    b = write_run(tmp_path / "h200", [bench("cuda:0", H200, "cudnn", 512, 0.9, protocol="adaptive")],
                  [device("cuda:0", H200)])
    report = write_report([a, b], tmp_path / "out").read_text()
    assert "**Warning:** the GPU models compared here were timed by different protocols" in report
    assert f"| {H200} | 1 | 1 | 2.11.0 | 13.0 | 91900 | 580.1 | — | 700 W | adaptive |" in report


def test_fleet_baseline_and_plots(tmp_path):
    a, b = fleet(tmp_path)
    out = tmp_path / "out"
    assert main(["report", str(a), str(b), "-o", str(out), "--baseline", H200]) == 0
    head = (out / "report.md").read_text().split("## What else differs")[0]
    assert f"| implementation | {H200} | {H100} |" in head and "| cudnn | 1.00× (4) | 0.82× (4) |" in head
    names = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert names == ["speed_0.png", "speed_1.png", "speedup.png"]  # fwd and fwd_bwd over seq_len; speed-up bars
    frame = pd.read_parquet(out / "results.parquet")
    assert len(frame) == 36 and set(frame["run"]) == {"h100", "h200"}


@pytest.mark.parametrize("args,message", [
    (["{tmp}/nothing"], "no such run directory"),
    (["{tmp}/h100", "{tmp}/h200"], "say where it goes with -o"),
    (["{tmp}/h100", "{tmp}/h200", "-o", "{tmp}/o", "--baseline", "A100"], "--baseline 'A100': no run has that GPU model"),
    (["{tmp}/h100", "{tmp}/h100", "-o", "{tmp}/o"], "the same run directory is named twice"),
    (["{tmp}/plain", "-o", "{tmp}/o"], "no manifest.json here"),
])
def test_report_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    fleet(tmp_path)
    (tmp_path / "plain").mkdir()
    assert main(["report", *[a.format(tmp=tmp_path) for a in args]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_html_is_one_offline_file_with_tables_and_plots(tmp_path):
    rows = [bench("cuda:0", H100, b, s, ms * s / 512) for b, ms in (("math", 4.0), ("flash", 1.0)) for s in (512, 1024, 2048)]
    run_dir = write_run(tmp_path / "run", rows)
    write_report([run_dir])
    page = (run_dir / "report.html").read_text()
    assert page.count("<table>") >= 5  # headline, confounders, 3 points, devices
    assert "<b>1 ms · 10 TFLOPS · 4× math</b>" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(list((run_dir / "plots").glob("*.png"))) >= 1
    assert not re.search(r'(src|href)="(http|file|plots/)', page)  # nothing outside the file


def test_load_runs_gives_one_tidy_frame_with_versions(tmp_path):
    a, b = fleet(tmp_path)
    frame = load_runs([a, b])
    assert list(frame["run"].unique()) == ["h100", "h200"] and len(frame) == 36
    assert set(frame.loc[frame["run"] == "h200", "torch_version"]) == {"2.12.0"}
    assert frame["median_ms"].dtype == "float64" and frame["n_reps"].dtype == "Int64"


def test_a_run_directory_of_an_older_version_still_reports(tmp_path):
    """No flash_impl, mask, timer or power_limit_w anywhere, no config in the manifest: as PR-era runs."""
    old = [{k: v for k, v in bench("cuda:0", H100, "flash", 512, 1.0).items() if k not in ("flash_impl", "mask", "timer")}]
    run_dir = write_run(tmp_path / "old", old, [{k: v for k, v in device("cuda:0", H100).items()
                                                 if k not in ("power_limit_w", "sm_count")}])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["config"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    report = write_report([run_dir]).read_text()
    assert f"| {H100} | **1 ms · 10 TFLOPS** |" in report
    frame = load_runs([run_dir])
    assert frame.loc[0, "timer"] == "cuda_events" and frame.loc[0, "flash_impl"] == "builtin"


def test_loading_skips_a_torn_last_line_and_refuses_a_corrupt_middle(tmp_path):
    from analysis import load_results
    good = "".join(json.dumps(bench("cuda:0", H100, "flash", s, 1.0)) + "\n" for s in (1, 2))
    run_dir = tmp_path / "torn"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text(good + '{"job_id": "cut", "sta')
    with pytest.warns(UserWarning, match="torn last line"):
        frame = load_results(run_dir)
    assert list(frame["seq_len"]) == [1, 2] and frame["finished_at"].dtype == "string"
    (run_dir / "results.jsonl").write_text(good.replace("\n", "\nnot json\n", 1))
    with pytest.raises(ValueError, match="results.jsonl:2: corrupt line in the journal"):
        load_results(run_dir)
    (run_dir / "results.jsonl").write_text(good.replace("\n", "\n{}\n", 1))  # JSON, but not a row
    with pytest.raises(ValueError, match="results.jsonl:2: corrupt line .*not a result row"):
        load_results(run_dir)


def test_a_row_with_a_status_outside_the_vocabulary_is_corrupt(tmp_path):
    from analysis import load_results
    run_dir = tmp_path / "odd"
    run_dir.mkdir()
    rows = [bench("cuda:0", H100, "flash", 1, 1.0), bench("cuda:0", H100, "flash", 2, 1.0, status="great")]
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match="results.jsonl:2: corrupt line .*status 'great' is none of ok, oom"):
        load_results(run_dir)


def section_tables(report: str, start: str, end: str) -> list[str]:
    part = report[report.index(start):report.index(end)]
    return [line for line in part.splitlines() if line.startswith("| ")]


def test_a_run_written_before_schema_json_reports_the_same_tables(tmp_path):
    """A real H200 run of configs/default.yaml from before the job contract (format 1, its report.md
    written then): today's report of it has the same per-point speed and correctness tables."""
    old = ROOT / "docs" / "results" / "2026-11-26-h200-adaptive-timing" / "final-code" / "run1"
    then = (old / "report.md").read_text()
    now = write_report([old], tmp_path / "now").read_text()
    for start, end in (("## Speed per point", "## Correctness per point"), ("## Correctness per point", "## Failures")):
        assert section_tables(now, start, end) == section_tables(then, start, end)
    assert len(section_tables(now, "## Speed per point", "## Correctness per point")) >= 18  # 9 points


def test_the_clocks_section_and_burst_beside_sustained_by_hand(tmp_path):
    # sustained 1.2 ms and 1.1 ms, bursts 1.0 ms: gaps 1.2 and 1.1, their geometric mean 1.149
    rows = [bench("cuda:0", H200, "cudnn", s, ms, burst_ms=1.0, burst_clock_mhz=1980.0, sm_clock_mhz=1650.0)
            for s, ms in ((1024, 1.2), (4096, 1.1))]
    run_dir = write_run(tmp_path / "run", rows, [device("cuda:0", H200, sm_clock_max_mhz=1980)])
    report = write_report([run_dir]).read_text()
    clocks = report[report.index("## Clocks: burst and sustained"):report.index("## Runs")]
    assert f"| {H200} | 1,980 MHz | 1,980 MHz | 1,650 MHz | 700 W | {(1.2 * 1.1) ** 0.5:.3f}× | 2 |" in clocks
    assert f"| float16 d1 non-causal fwd | {(1.2 * 1.1) ** 0.5:.3f}× |" in clocks
    # a cell: sustained 10 / 1.2 TFLOPS, and its burst 10 / 1.0, 1.2x faster
    assert "1.2 ms · 8.33 TFLOPS · burst 10 (gap 1.20×)" in report
    assert "| float16 d1 non-causal fwd | **cudnn** 8.71 TFLOPS (2 points, burst 10) |" in report


def test_a_math_only_sweep_in_the_family_does_not_make_math_the_headline(tmp_path):
    """Sweep `both` times default and math at two points (math 0.3x default there); sweep `long`, in
    the same shape family, times only math, at long sequences where its TFLOPS are high. The family's
    winner is ranked over the points both ran: default, over 2 points."""
    rows = [bench("cuda:0", H100, impl, seq, ms, sweep="both") for seq in (1024, 2048)
            for impl, ms in (("default", 1.0), ("math", 1 / 0.3))]
    rows += [bench("cuda:0", H100, "math", seq, 0.1, sweep="long") for seq in (8192, 16384, 32768)]
    report = write_report([write_run(tmp_path / "run", rows)]).read_text()
    head = report[:report.index("## What else differs")]
    assert f"| shape family | {H100} |" in head
    assert "| float16 d1 non-causal fwd | **default** 10 TFLOPS (2 points) |" in head


def test_an_ok_speed_row_without_a_time_is_no_cell_and_no_crash(tmp_path):
    """A job may end ok without timing a point (a custom job's contract allows it); such a row is
    counted, never ranked."""
    rows = [bench("cuda:0", H100, "flash", 512, 1.0),
            synthetic_row(job_id="untimed", gpu_name=H100, backend="math", seq_len=512, kv_len=512, mode="bwd")]
    report = write_report([write_run(tmp_path / "run", rows)]).read_text()
    assert "| float16 d1 non-causal fwd | **flash** 10 TFLOPS (1 point) |" in report
    assert "Jobs by status: ok 2." in report
