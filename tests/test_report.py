"""The report's numbers against hand-computed cases, failures in their cells, the cross-GPU
section, load_runs, and the HTML: tables and embedded plots, one file that needs nothing else."""
import json
import re

import pandas as pd

from analysis import load_runs
from analysis.report import write_report
from tests.conftest import synthetic_row, write_rows

H100, A100 = "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB"


def manifest(run_dir, devices):
    (run_dir / "manifest.json").write_text(json.dumps({"sessions": [{
        "started_at": "2026-11-25T10:00:00+00:00", "versions": {"python": "3.11", "ray": "2.60.0", "torch": "2.13"},
        "devices": [{"hostname": "h", "device": d, "node": "n", "gpu_name": g, "gpu_uuid": d, "torch_version": "2.13",
                     "cuda_version": "13.0", "cudnn_version": "91900", "driver_version": "580", "memory_gib": 80.0,
                     "sm_count": 132, "compute_capability": "9.0"} for d, g in devices]}]}))


def bench(device, gpu, backend, seq, ms, status="ok", **kw):
    return synthetic_row(job_id=f"{device}{backend}{seq}", device=device, gpu_name=gpu, gpu_uuid=device, backend=backend,
                         seq_len=seq, kv_len=seq, status=status, median_ms=ms if status == "ok" else None,
                         iqr_ms=0.01 if status == "ok" else None, tflops=10 / ms if status == "ok" else None,
                         finished_at="2026-11-25T10:01:40+00:00", **kw)


def two_gpu_run(tmp_path):
    rows = [bench("cuda:0", H100, "math", 512, 4.0), bench("cuda:0", H100, "flash", 512, 1.0),
            bench("cuda:0", H100, "cudnn", 512, 0.5), bench("cuda:1", A100, "math", 512, 8.0),
            bench("cuda:1", A100, "flash", 512, 2.0), bench("cuda:1", A100, "cudnn", 512, None, status="unsupported",
                                                           error="cudnn on cuda has no kernel for this input: sm80")]
    run_dir = write_rows(tmp_path / "run", rows)
    manifest(run_dir, [("cuda:0", H100), ("cuda:1", A100)])
    write_report(run_dir)
    return run_dir


def table_after(report: str, heading: str) -> list[str]:
    section = report[report.index(heading):]
    return [line for line in section.splitlines() if line.startswith("| ")][:3]


def test_speed_table_numbers_speedups_and_best_backend(tmp_path):
    report = (two_gpu_run(tmp_path) / "report.md").read_text()
    header, h100, a100 = table_after(report, "### s: batch 1, heads 1, seq 512")
    assert header == "| device | math | flash | cudnn |"
    # H100: flash 4.0 / 1.0 = 4x math, cudnn 8x math and the fastest, so bold
    assert "| 4 ms · 2.5 TFLOPS | 1 ms · 10 TFLOPS · 4× math | **0.5 ms · 20 TFLOPS · 8× math** |" in h100
    # A100: cudnn has no kernel there: the cell says so; flash is the fastest it has
    assert a100.endswith("| 8 ms · 1.25 TFLOPS | **2 ms · 5 TFLOPS · 4× math** | unsupported |")


def test_cross_gpu_section_and_failures(tmp_path):
    report = (two_gpu_run(tmp_path) / "report.md").read_text()
    assert "| math | 1.00× | 2.00× |" in report and "| flash | 1.00× | 2.00× |" in report  # A100 takes 2x as long
    assert "The fastest backend differs between GPU models at 1 of 1 shared points." in report  # cudnn vs flash
    assert "| device | cudnn |" in report and "| h cuda:1 · NVIDIA A100-SXM4-80GB | unsupported 1 |" in report
    assert "- **unsupported** `cudnn` ×1: cudnn on cuda has no kernel for this input: sm80" in report
    assert "| NVIDIA H100 80GB HBM3 | 1 | 1 |" in report and "Wall time: 100 s" in report


def test_html_is_one_offline_file_with_tables_and_plots(tmp_path):
    run_dir = tmp_path / "run"
    rows = [bench("cuda:0", H100, b, s, ms * s / 512) for b, ms in (("math", 4.0), ("flash", 1.0)) for s in (512, 1024, 2048)]
    write_rows(run_dir, rows)
    manifest(run_dir, [("cuda:0", H100)])
    write_report(run_dir)
    page = (run_dir / "report.html").read_text()
    assert page.count("<table>") >= 4  # summary, 3 points, devices
    assert "<b>1 ms · 10 TFLOPS · 4× math</b>" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(list((run_dir / "plots").glob("*.png"))) >= 1
    assert not re.search(r'(src|href)="(http|file|plots/)', page)  # nothing outside the file


def test_load_runs_gives_one_tidy_frame_with_versions(tmp_path):
    first = two_gpu_run(tmp_path)
    frame = load_runs([first])
    assert set(frame["run"]) == {"run"} and len(frame) == 6
    assert frame.loc[frame["device"] == "cuda:1", "compute_capability"].iloc[0] == "9.0"
    assert frame["median_ms"].dtype == "float64" and frame["n_reps"].dtype == "Int64"
    assert pd.read_csv(first / "results.csv").shape[0] == 6


def test_loading_skips_a_torn_last_line_and_refuses_a_corrupt_middle(tmp_path):
    import pytest

    from analysis import load_results
    good = "".join(json.dumps(bench("cuda:0", H100, "flash", s, 1.0)) + "\n" for s in (1, 2))
    run_dir = tmp_path / "torn"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text(good + '{"job_id": "cut", "sta')
    with pytest.warns(UserWarning, match="torn last line"):
        frame = load_results(run_dir)
    assert list(frame["seq_len"]) == [1, 2] and frame["finished_at"].dtype == "string"
    (run_dir / "results.jsonl").write_text(good.replace("\n", "\nnot json\n", 1))
    with pytest.raises(ValueError, match="corrupt line in the middle of the journal"):
        load_results(run_dir)


def test_speedup_over_default_is_shown(tmp_path):
    run_dir = write_rows(tmp_path / "d", [bench("cuda:0", H100, "default", 512, 1.0, dispatched="cudnn"),
                                          bench("cuda:0", H100, "flash", 512, 2.0)])
    manifest(run_dir, [("cuda:0", H100)])
    report = (run_dir / "report.md").read_text() if write_report(run_dir) else ""
    assert "| **1 ms · 10 TFLOPS (→ cudnn)** | 2 ms · 5 TFLOPS · 0.5× default |" in report
