"""A submitted run left and come back to, on a real `ray start --head` with the job API: `submit
--no-wait`, `job logs --follow` while it runs, `job stop` mid-run (the driver reports what finished
within its grace), `job fetch`, then `run --resume` of the fetched run; the run directory through
storage instead of the logs; a bad id, a refused and a silent address, each one line and exit 2."""
import json
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_cli
from tests.heads import start_head
from tests.test_resume import SLOW, TOTAL

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

QUICK = """
sweeps:
  - name: quick
    grid: {batch: [1], heads: [2], seq_len: [16, 24], head_dim: [8], dtype: [float32], backend: [math, cudnn]}
"""


@pytest.fixture(scope="module")
def head():
    yield from start_head("disabled")


def cli(env, *args, timeout=300):
    return run_cli(*args, env=env, timeout=timeout)


def submit_no_wait(head, config, *extra) -> str:
    address, env = head
    proc = cli(env, "submit", "--address", address, "-c", str(config), "--no-wait", *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    job_id = proc.stdout.strip()
    assert job_id.startswith("sdpa-bench-") and "\n" not in job_id  # the id alone: scripts read it
    return job_id


def rows(run_dir):
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def test_no_wait_then_logs_follow_shows_progress_while_it_runs_then_fetch(head, write_config, tmp_path):
    address, env = head
    job_id = submit_no_wait(head, write_config(SLOW), "--progress-every", "1")
    follow = subprocess.Popen([sys.executable, "-m", "orchestrator", "job", "logs", job_id, "--address", address,
                               "--follow"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        line = next(line for line in follow.stdout if " done (" in line)  # a summary line, as it comes
        status = cli(env, "job", "status", job_id, "--address", address)
        rest = follow.stdout.read()
        assert follow.wait(timeout=300) == 0
    finally:
        follow.kill()
    assert line.startswith("sdpa-bench: ") and f"/{TOTAL} done" in line
    assert status.returncode == 0 and f"{job_id}: RUNNING" in status.stdout and " done (" in status.stdout
    assert f"sdpa-bench: {TOTAL}/{TOTAL} done (100%)" in rest and f"job {job_id} ended SUCCEEDED" in rest
    assert "the run directory follows, packed" in rest and "H4sI" not in rest  # the tar.gz is left out

    fetched = cli(env, "job", "fetch", job_id, "--address", address, "-o", str(tmp_path / "home"))
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    assert len(rows(tmp_path / "home")) == TOTAL and (tmp_path / "home" / "report.md").is_file()


def wait_for_log(env, address, job_id, text, timeout_s=240) -> str:
    deadline, logs = time.monotonic() + timeout_s, ""
    while time.monotonic() < deadline:
        logs = cli(env, "job", "logs", job_id, "--address", address)
        if text in logs.stdout:
            return logs.stdout
        time.sleep(1)
    status = cli(env, "job", "status", job_id, "--address", address)
    raise AssertionError(f"{text!r} not in the job's log after {timeout_s} s; status: {status.stdout}{status.stderr}"
                         f"; log ends: {logs.stdout[-1500:]}{logs.stderr[-500:]}")


def test_stop_mid_run_then_fetch_reports_what_finished_and_resume_runs_the_rest(head, write_config, tmp_path):
    address, env = head
    job_id = submit_no_wait(head, write_config(SLOW), "-v")
    wait_for_log(env, address, job_id, f"[   3/{TOTAL}]")
    early = cli(env, "job", "fetch", job_id, "--address", address, "-o", str(tmp_path / "early"))
    assert early.returncode == 2 and "still RUNNING" in early.stderr and len(early.stderr.splitlines()) == 1

    stopped = cli(env, "job", "stop", job_id, "--address", address)
    assert stopped.returncode == 0 and f"job {job_id} STOPPED" in stopped.stdout, stopped.stdout + stopped.stderr
    logs = cli(env, "job", "logs", job_id, "--address", address).stdout
    assert "interrupted; stopping workers and reporting what finished" in logs
    run_dir = tmp_path / "stopped"
    fetched = cli(env, "job", "fetch", job_id, "--address", address, "-o", str(run_dir))
    assert fetched.returncode == 0 and "STOPPED; run directory in" in fetched.stdout, fetched.stderr[-2000:]
    finished = len(rows(run_dir))
    assert 3 <= finished < TOTAL
    assert f"Jobs by status: ok {finished}." in (run_dir / "report.md").read_text()  # written within the grace

    resumed = cli(env, "run", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{TOTAL - finished} jobs on 1 worker(s)" in resumed.stdout and f"{finished} already done" in resumed.stdout
    ids = [r["job_id"] for r in rows(run_dir)]
    assert len(ids) == TOTAL == len(set(ids))


def test_storage_instead_of_logs_and_a_waiting_submit_streams_progress(head, write_config, tmp_path):
    address, env = head
    store, home = tmp_path / "store", tmp_path / "home"
    proc = cli(env, "submit", "--address", address, "-c", str(write_config(QUICK)), "-o", str(home),
               "--storage", str(store))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "sdpa-bench: 4/4 done (100%)" in proc.stdout and "run directory copied to" in proc.stdout
    assert "the run directory follows, packed" not in proc.stdout  # not through the logs
    [copied] = store.iterdir()
    assert copied.name.startswith("sdpa-bench-") and (copied / "report.md").is_file()
    assert {r["status"] for r in rows(home)} == {"ok", "unsupported"} and len(rows(home)) == 4


def silent_server():
    """A port that takes connections and never answers (a firewall that drops, a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", ["bad id", "refused", "silent", "submit refused"])
def test_a_bad_id_or_an_unreachable_address_is_one_line_and_exit_2_within_10_s(head, case, write_config):
    address, env = head
    server = silent_server()
    try:
        where = {"bad id": address, "refused": f"http://127.0.0.1:{closed_port()}",
                 "silent": f"http://127.0.0.1:{server.getsockname()[1]}",
                 "submit refused": f"http://127.0.0.1:{closed_port()}"}[case]
        args = (["submit", "--address", where, "-c", str(write_config(QUICK)), "--no-wait"] if case.startswith("submit")
                else ["job", "status", "sdpa-bench-no-such-job", "--address", where])
        proc = cli(env, *args, timeout=10)  # the acceptance bound: past it, run_cli raises
    finally:
        server.close()
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    expected = {"bad id": "no such job", "refused": "cannot use the Ray job server", "silent": "no answer within",
                "submit refused": "nothing answers at"}[case]  # submit probes the address before the job API
    subject = {"bad id": "sdpa-bench-no-such-job", "submit refused": f"--address {where}"}.get(case, where)
    assert line.startswith(f"sdpa-bench: error: {subject}: "), line
    assert expected in line and "JobServerError" not in line, line  # said once, not wrapped in a second message
