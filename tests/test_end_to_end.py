"""The user's path, in a subprocess: `sdpa-bench run` on configs/smoke.yaml, then `report`."""
import json

import pandas as pd

from tests.conftest import run_cli
import pytest

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess


def test_smoke_run_leaves_journal_parquet_and_report(tmp_path):
    run_dir = tmp_path / "smoke"
    proc = run_cli("run", "-c", "configs/smoke.yaml", "-o", str(run_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"report written to {run_dir}/report.md" in proc.stdout
    assert "sdpa-bench: 20/20 done (100%)" in proc.stdout  # the last summary line (not a terminal)
    for name in ("manifest.json", "config.yaml", "results.jsonl", "samples.jsonl", "results.parquet", "report.md"):
        assert (run_dir / name).exists(), name

    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 20  # 2 seq_len x 2 causal x 5 backends, one CPU worker
    by_backend = {b: {r["status"] for r in rows if r["backend"] == b} for b in ("math", "flash", "efficient", "cudnn")}
    assert by_backend == {"math": {"ok"}, "flash": {"ok"}, "efficient": {"unsupported"}, "cudnn": {"unsupported"}}
    assert all(r["median_ms"] > 0 and r["tflops"] > 0 for r in rows if r["status"] == "ok")
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert {s["job_id"] for s in samples} == {r["job_id"] for r in rows if r["status"] == "ok"}

    frame = pd.read_parquet(run_dir / "results.parquet")
    assert len(frame) == 20
    report = (run_dir / "report.md").read_text()
    assert "| GPU model | default | math | flash | efficient | cudnn |" in report
    assert report.count("| unsupported | unsupported |") == 4  # failures shown in their cells

    (run_dir / "report.md").unlink()
    proc = run_cli("report", str(run_dir))
    assert proc.returncode == 0 and (run_dir / "report.md").read_text() == report


def test_a_used_run_directory_is_not_overwritten(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text('{"job_id": "x"}\n')
    proc = run_cli("run", "-c", "configs/smoke.yaml", "-o", str(run_dir))
    assert proc.returncode == 2 and "--resume" in proc.stderr
    assert (run_dir / "results.jsonl").read_text() == '{"job_id": "x"}\n'
