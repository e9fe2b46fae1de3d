"""Progress as a run shows it: a live bar on a real terminal (a pty), summary lines and the rows that
are not ok in full anywhere else, a line per job with -v. The clock is a list of readings, so what
is due when never depends on how fast the machine is; no timing is asserted."""
import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

from base.schema import DeviceInfo, make_result
from orchestrator.progress import BarProgress, LogProgress, Tally, duration, make_progress
from tests.conftest import ROOT, dense, job_spec

CPU = DeviceInfo(node="n", hostname="h1", device="cpu", compute="cpu", gpu_name="cpu", gpu_uuid="", memory_gib=None,
                 sm_count=None, compute_capability="", torch_version="2", cuda_version="", cudnn_version="",
                 driver_version="")
OTHER = DeviceInfo(**{**CPU.__dict__, "hostname": "h2"})


def result(status="ok", device=CPU, seconds=1.0, error=""):
    metrics = {"median_ms": 1.5, "tflops": 2.0} if status == "ok" else {}
    return make_result("id", job_spec(dense()), device, status, error, metrics=metrics, duration_s=seconds)


class Clock:
    """A clock the test sets."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self):
        return self.now


def test_the_tally_counts_rates_and_names_the_slowest_device():
    clock = Clock()
    tally = Tally(10, clock=clock)
    clock.now = 60.0
    for r in (result(), result(seconds=3.0, device=OTHER), result("oom", seconds=0.5), result("skipped", seconds=None)):
        tally.add(r)
    assert tally.done == 4 and tally.statuses() == "ok 2, oom 1, skipped 1"
    assert tally.per_minute() == 4.0 and tally.eta() == "1m30s"  # 6 left at 4 a minute
    assert tally.slowest() == "cpu on h2 (3.00 s/job)"  # the skipped row never ran: not counted


def test_an_eta_reads_as_people_write_one():
    assert [duration(s) for s in (4, 187, 7500)] == ["4s", "3m07s", "2h05m"]


def test_off_a_terminal_summary_lines_and_every_row_that_is_not_ok_in_full():
    out = io.StringIO()
    progress = LogProgress(Tally(3, clock=Clock()), out, every_s=30.0, verbose=False)
    progress.job_done(result())
    progress.job_done(result("error", error="RuntimeError: boom\nline two of the traceback"))
    progress.close()
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0].startswith("[   2/3] error") and lines[1:3] == ["    RuntimeError: boom",
                                                                    "    line two of the traceback"]
    assert lines[-1].startswith("sdpa-bench: 2/3 done (67%) · ETA ")
    assert "ok 1, error 1" in lines[-1] and "slowest cpu on h1" in lines[-1]
    assert len(lines) == 4  # the ok row has no line of its own without -v


def test_a_summary_line_comes_every_n_seconds_as_the_driver_ticks():
    out = io.StringIO()
    clock = Clock()
    progress = LogProgress(Tally(100, clock=clock), out, every_s=30.0, verbose=True)
    for now in (5.0, 31.0, 40.0, 62.0):  # a job at 5 s (its line, no summary yet), then ticks: due, not yet, due
        clock.now = now
        if now == 5.0:
            progress.job_done(result())
        else:
            progress.tick()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[   1/100] ok")
    assert [line.split(" · ")[0] for line in lines[1:]] == ["sdpa-bench: 1/100 done (1%)"] * 2


def read_all(fd) -> str:
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        chunks.append(os.read(fd, 65536))
    return b"".join(chunks).decode(errors="replace")


def terminal_pair(columns: int = 120) -> tuple[int, int]:
    """A pty of `columns` (a new pty has none until a terminal sets its size)."""
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    return main, secondary


@pytest.mark.parametrize("columns", [120, 0])  # 0: a pty no terminal has sized (as some CI runners leave it)
def test_on_a_terminal_one_bar_redrawn_in_place(columns):
    main, secondary = terminal_pair(columns)
    with os.fdopen(secondary, "w", encoding="utf-8") as terminal:
        progress = make_progress(3, out=terminal, verbose=True)
        assert isinstance(progress, BarProgress)
        for r in (result(), result("oom", error="CUDA out of memory")):
            progress.job_done(r)
        progress.close()
        text = read_all(main)
    os.close(main)
    assert "\r" in text  # redrawn, not appended
    assert "2/3" in text and "jobs/min" in text and "ETA" in text and "ok 1, oom 1" in text
    assert "slowest cpu on h1" in text
    assert "[   2/3] oom" in text  # -v: the job's line, above the bar


@pytest.mark.integration
def test_a_real_run_on_a_terminal_shows_the_bar_and_in_a_file_the_summary(write_config, tmp_path):
    config = write_config("""
sweeps:
  - name: bar
    grid: {batch: [1], heads: [2], seq_len: [16, 24], head_dim: [8], dtype: [float32], backend: [math, cudnn]}
""")
    main, secondary = terminal_pair()
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "-c", str(config), "-o", str(tmp_path / "t")],
                            cwd=ROOT, stdout=secondary, stderr=subprocess.DEVNULL)
    os.close(secondary)
    chunks = []
    while proc.poll() is None or select.select([main], [], [], 0.5)[0]:
        if select.select([main], [], [], 0.5)[0]:
            try:
                chunks.append(os.read(main, 65536))
            except OSError:  # the terminal closed with the process
                break
    os.close(main)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.wait(timeout=60) == 0, text[-2000:]
    assert "\r" in text and "4/4" in text and "ok 2, unsupported 2" in text and "jobs/min" in text

    logged = subprocess.run([sys.executable, "-m", "orchestrator", "run", "-c", str(config), "-o", str(tmp_path / "f")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert logged.returncode == 0 and "\r" not in logged.stdout
    assert "sdpa-bench: 4/4 done (100%)" in logged.stdout and "ok 2, unsupported 2" in logged.stdout
    assert logged.stdout.count("] unsupported ") == 2  # each row that is not ok, in full
