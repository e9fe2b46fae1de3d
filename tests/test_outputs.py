"""sdpa-bench never destroys what it did not write: a report or compare output into a folder that
holds a user's files is refused in one line; a report folder marks itself; the report is written
whole or not at all, so a full disk (a real tmpfs) or a second Ctrl-C (a real SIGINT) mid-report
leaves the previous report as it was."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from analysis.report import write_report
from base.outputs import MARKER, STAGING
from orchestrator.cli import main
from tests.conftest import ROOT, synthetic_row, write_run
from tests.test_bad_input import small_fs  # noqa: F401 - the fixture: a real 64 KiB tmpfs
from tests.test_journal import refused


def timed_rows(families: int = 1) -> list[dict]:
    modes = ["fwd", "bwd", "fwd_bwd"][:families]
    return [synthetic_row(job_id=f"{b}{s}{m}", backend=b, seq_len=s, kv_len=s, mode=m, median_ms=ms * s,
                          iqr_ms=0.0, tflops=1 / (ms * s))
            for b, ms in (("math", 2.0), ("flash", 1.0)) for s in (16, 32, 64) for m in modes]


def snapshot(folder) -> dict[str, bytes]:
    """Every file under `folder` and its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def users_folder(tmp_path):
    mine = tmp_path / "mine"
    (mine / "plots").mkdir(parents=True)
    (mine / "plots" / "fig1.svg").write_text("<svg>my figure</svg>")
    (mine / "report.md").write_text("# my own notes\n")
    (mine / "results.csv").write_text("my,data\n")
    return mine


def test_a_report_into_a_folder_of_the_users_files_is_refused_and_touches_nothing(tmp_path, capsys):
    run_dir = write_run(tmp_path / "run", timed_rows())
    mine = users_folder(tmp_path)
    before = snapshot(mine)
    refused(capsys, ["report", str(run_dir), "-o", str(mine)], "holds files sdpa-bench did not write (report.md, "
                                                               "results.csv, plots/fig1.svg); give a new or empty directory")
    assert snapshot(mine) == before


def test_a_report_folder_marks_itself_and_a_users_file_in_it_stops_the_next(tmp_path, capsys):
    run_dir, out = write_run(tmp_path / "run", timed_rows()), tmp_path / "out"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    files = json.loads((out / MARKER).read_text())["files"]
    assert {"report.md", "report.html", "results.csv", "results.parquet", "plots/speed_0.png"} <= set(files)
    assert set(files.values()) == {"report"}
    assert main(["report", str(run_dir), "-o", str(out)]) == 0  # its own files: replaced
    (out / "plots" / "fig1.svg").write_text("<svg>mine</svg>")
    refused(capsys, ["report", str(run_dir), "-o", str(out)], "holds files sdpa-bench did not write (plots/fig1.svg)")
    assert (out / "plots" / "fig1.svg").read_text() == "<svg>mine</svg>" and (out / "plots" / "speed_0.png").exists()
    assert not (out / STAGING).exists()


def test_a_report_an_older_sdpa_bench_wrote_without_a_marker_is_replaced(tmp_path):
    run_dir, old = write_run(tmp_path / "run", timed_rows()), tmp_path / "old"
    (old / "plots").mkdir(parents=True)
    (old / "plots" / "tflops_0.png").write_bytes(b"old plot")
    (old / "report.md").write_text("# sdpa-bench report: run\n\nold\n")
    write_report([run_dir], old)
    assert not (old / "plots" / "tflops_0.png").exists() and (old / "plots" / "speed_0.png").exists()
    (run_dir / "report.md").write_text("# sdpa-bench report: run\n")  # and in a run directory, beside its files
    (run_dir / "compare.csv").write_text("old,compare\n")
    write_report([run_dir])
    assert (run_dir / "report.md").read_text().startswith("# sdpa-bench report: run\n\n## Headline")


def test_compare_never_writes_over_a_runs_own_files_or_the_users(tmp_path, capsys):
    a, b = write_run(tmp_path / "a", timed_rows()), write_run(tmp_path / "b", timed_rows())
    journal = (b / "results.jsonl").read_bytes()
    for target in ("results.jsonl", "manifest.json"):
        refused(capsys, ["compare", str(a), str(b), "-o", str(b / target)],
                f"{b / target}: exists and sdpa-bench compare did not write it; give a new file with -o")
    assert (b / "results.jsonl").read_bytes() == journal
    notes = tmp_path / "notes.csv"
    notes.write_text("mine\n")
    refused(capsys, ["compare", str(a), str(b), "-o", str(notes)], "sdpa-bench compare did not write it")
    assert main(["report", str(b)]) == 0
    refused(capsys, ["compare", str(a), str(b), "-o", str(b / "report.md")], "sdpa-bench compare did not write it")
    refused(capsys, ["compare", str(a), str(b), "-o", str(b)], "is a directory; give the path of a file")
    for _ in range(2):  # its own file, again: replaced
        assert main(["compare", str(a), str(b), "-o", str(tmp_path / "ci" / "ratios.csv")]) == 0
    assert notes.read_text() == "mine\n" and (b / "results.jsonl").read_bytes() == journal


def fill(folder) -> None:
    """Fill the filesystem of `folder` to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_full_disk_mid_report_leaves_the_previous_report_whole(small_fs, tmp_path, capsys):  # noqa: F811
    run_dir = write_run(tmp_path / "run", timed_rows())
    out = small_fs / "out"
    subprocess.run(["mount", "-o", "remount,size=2m", str(small_fs)], check=True)
    write_report([run_dir], out)
    before = snapshot(out)
    write_run(tmp_path / "run", timed_rows(families=3))  # a bigger report next
    fill(small_fs)
    refused(capsys, ["report", str(run_dir), "-o", str(out)], "No space left on device; what was there before is as "
                                                            "it was")
    assert snapshot(out) == before and not (out / STAGING).exists()
    (small_fs / "filler").unlink()
    write_report([run_dir], out)
    assert snapshot(out) != before


def interrupt_when(path, pid: int, sig=signal.SIGINT) -> threading.Thread:
    """Send `sig` to `pid` the moment `path` exists: the report is being written."""
    def watch():
        deadline = time.monotonic() + 120
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(pid, sig)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_mid_report_leaves_the_previous_report_whole(tmp_path):
    run_dir = write_run(tmp_path / "run", timed_rows())
    write_report([run_dir])
    before = snapshot(run_dir)
    write_run(tmp_path / "run", timed_rows(families=3))
    watcher = interrupt_when(run_dir / STAGING, os.getpid())
    with pytest.raises(KeyboardInterrupt):
        write_report([run_dir])
        time.sleep(5)  # the signal came after the report: the test fails below
    watcher.join()
    after = snapshot(run_dir)
    assert {k: v for k, v in after.items() if k != "results.jsonl"} == {
        k: v for k, v in before.items() if k != "results.jsonl"}
    assert not (run_dir / STAGING).exists()


@pytest.mark.integration
def test_ctrl_c_mid_report_command_is_one_line_exit_130(tmp_path):
    run_dir = write_run(tmp_path / "run", timed_rows(families=3))
    write_report([run_dir])
    before = snapshot(run_dir)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "report", str(run_dir)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    interrupt_when(run_dir / STAGING, proc.pid).join()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and err.count("\n") == 1 and "interrupted" in err
    assert snapshot(run_dir) == before


@pytest.mark.integration
def test_a_second_ctrl_c_while_a_run_writes_its_report_leaves_no_traceback(write_config, tmp_path):
    from tests.test_resume import SLOW, kill_session, start_run, wait_for_rows

    run_dir = tmp_path / "run"
    proc = start_run(write_config(SLOW), run_dir)
    try:
        wait_for_rows(run_dir, 3, proc)
        proc.send_signal(signal.SIGINT)  # the first: stop the jobs, report what finished
        interrupt_when(run_dir / STAGING, proc.pid).join()  # the second, mid-report
        out, _ = proc.communicate(timeout=120)
    finally:
        kill_session(proc)
    assert proc.returncode == 130, out[-3000:]
    assert "Traceback" not in out and "interrupted while writing the report" in out, out[-3000:]
    assert not (run_dir / "report.md").exists() and not (run_dir / STAGING).exists()
    assert main(["report", str(run_dir)]) == 0  # every finished row is there to report
