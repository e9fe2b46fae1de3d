"""Driver death and interruption, in real subprocesses: kill -9 midway then --resume, SIGTERM,
and a journal torn mid-line. Nothing finished is lost; no job runs twice; no row is written twice."""
import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

from base.journal import Journal, read_journal
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

# 24 points at ~0.3 s each: long enough to interrupt midway, short enough for CI.
SLOW = """
timing: {warmup_reps: 1, warmup_ms: 300, min_reps: 6, max_reps: 6, target_rel_ci: 0.0, min_timed_ms: 0, budget_s: 10}
sweeps:
  - name: slow
    grid: {batch: [1], heads: [2], seq_len: [16, 24, 32, 40, 48, 56], head_dim: [8], dtype: [float32],
           backend: [math, flash], causal: [false, true]}
"""
TOTAL = 24


def start_run(config, run_dir, env=None) -> subprocess.Popen:
    # its own session, so the test can clean up the Ray processes the killed driver leaves behind
    return subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "-c", str(config), "-o", str(run_dir)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=env)


def wait_for_rows(run_dir, n, proc, timeout=120):
    journal = run_dir / "results.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= n:
            return
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} rows after {timeout} s")


def kill_session(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def ids(run_dir):
    return [row["job_id"] for row in read_journal(run_dir / "results.jsonl")]


def test_kill_9_midway_then_resume_runs_only_what_is_missing(write_config, tmp_path):
    config, run_dir = write_config(SLOW), tmp_path / "run"
    proc = start_run(config, run_dir)
    try:
        wait_for_rows(run_dir, 5, proc)
        proc.send_signal(signal.SIGKILL)  # the driver alone, as a crash would take it
        proc.wait(timeout=30)
    finally:
        kill_session(proc)  # the Ray processes it started
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the kill may have torn the last line
        before = ids(run_dir)
    assert 5 <= len(before) < TOTAL

    done = run_cli("run", "--resume", str(run_dir))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{TOTAL - len(before)} jobs on 1 worker(s)" in done.stdout
    assert f"{len(before)} already done" in done.stdout
    after = ids(run_dir)
    assert len(after) == TOTAL and len(set(after)) == TOTAL  # exactly one row per job
    assert after[:len(before)] == before  # nothing finished was lost or rewritten
    report = (run_dir / "report.md").read_text()
    assert f"Jobs by status: ok {TOTAL}." in report


def test_sigterm_stops_workers_and_reports_what_finished(write_config, tmp_path):
    config, run_dir = write_config(SLOW), tmp_path / "run"
    proc = start_run(config, run_dir)
    try:
        wait_for_rows(run_dir, 3, proc)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        kill_session(proc)
    assert proc.returncode == 130, out[-2000:]
    assert "interrupted; stopping workers and reporting what finished" in out
    rows = ids(run_dir)
    assert 3 <= len(rows) < TOTAL
    assert f"Jobs by status: ok {len(rows)}." in (run_dir / "report.md").read_text()
    assert len(pd_rows(run_dir)) == len(rows)


def pd_rows(run_dir):
    import pandas as pd
    return pd.read_parquet(run_dir / "results.parquet")


def test_torn_last_line_is_skipped_with_a_warning_and_repaired_before_appending(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"job_id": "a", "status": "ok"}\n{"job_id": "b", "status": "ok"}\n{"job_id": "c", "status": "o')
    with pytest.warns(UserWarning, match="torn last line"):
        assert [r["job_id"] for r in read_journal(path)] == ["a", "b"]
    with pytest.warns(UserWarning, match="dropping a torn last line"):
        journal = Journal(path)
    journal.append({"job_id": "c", "status": "ok"})
    journal.close()
    assert [json.loads(line)["job_id"] for line in path.read_text().splitlines()] == ["a", "b", "c"]


def test_a_corrupt_line_in_the_middle_is_an_error_not_a_silent_loss(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"job_id": "a", "status": "ok"}\nnot json\n{"job_id": "c", "status": "ok"}\n')
    with pytest.raises(ValueError, match="results.jsonl:2: corrupt line"):
        read_journal(path)


def test_sigterm_to_the_whole_process_group_reports_and_exits_130(write_config, tmp_path):
    """What `timeout` and job schedulers do: every process of the group, Ray's own included, gets it."""
    config, run_dir = write_config(SLOW), tmp_path / "run"
    proc = start_run(config, run_dir)
    try:
        wait_for_rows(run_dir, 3, proc)
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        kill_session(proc)
    assert proc.returncode == 130, out[-2000:]
    assert "report written to" in out
    assert f"Jobs by status: ok {len(ids(run_dir))}." in (run_dir / "report.md").read_text()
    assert took < 45, took  # not Ray's 60 s wait for its vanished control process


def test_a_second_driver_on_a_running_run_is_refused_naming_the_first(write_config, tmp_path):
    """`run --resume DIR` while the first run is still going: one line naming the pid holding the run,
    exit 2, and not one row from the second driver."""
    config, run_dir = write_config(SLOW), tmp_path / "run"
    proc = start_run(config, run_dir)
    try:
        wait_for_rows(run_dir, 2, proc)
        second = run_cli("run", "--resume", str(run_dir))
        assert proc.poll() is None  # the first is still going
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        kill_session(proc)
    assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert f"another sdpa-bench (pid {proc.pid}) is writing this run" in second.stderr
    rows = ids(run_dir)
    assert len(rows) == len(set(rows)) and "jobs on" not in second.stdout  # the second driver ran nothing
