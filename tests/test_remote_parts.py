"""The parts of a remote run that need no cluster: the log filter that cuts the packed run
directory out of a stream however it is split, the latest summary line, the storage a run
directory goes through (a real local path through pyarrow.fs), and the job's entrypoint."""
import io
import contextlib
import shlex

import pytest

from orchestrator.remote import LogFilter, last_progress
from orchestrator.storage import StorageError, check_storage, fetch_tree, send_tree
from orchestrator.submit import BEGIN, END, entrypoint, pack
from tests.conftest import synthetic_row, write_run

LOG = (f"sdpa-bench: 3 jobs on 1 worker(s)\nsdpa-bench: 1/3 done (33%) · ETA 2s\nsdpa-bench: 3/3 done (100%) · ETA 0s\n"
       f"{BEGIN}\nH4sIAAAAAAAAA+3OMQ6CQBCF4d2\nAAAA\n{END}\n")


@pytest.mark.parametrize("size", [1, 7, 64, len(LOG)])
def test_the_packed_run_directory_is_cut_out_however_the_stream_is_split(size):
    out = []
    logs = LogFilter(out.append)
    for i in range(0, len(LOG), size):
        logs.feed(LOG[i:i + size])
    logs.close()
    text = "".join(out)
    assert "H4sI" not in text and "AAAA" not in text
    assert text.splitlines() == ["sdpa-bench: 3 jobs on 1 worker(s)", "sdpa-bench: 1/3 done (33%) · ETA 2s",
                                 "sdpa-bench: 3/3 done (100%) · ETA 0s",
                                 "sdpa-bench: (the run directory follows, packed; `sdpa-bench job fetch` unpacks it)"]


def test_the_latest_summary_line_is_found_before_the_pack():
    assert last_progress(LOG) == "sdpa-bench: 3/3 done (100%) · ETA 0s"
    assert last_progress("Running entrypoint\n") == ""


def test_storage_must_be_a_uri_or_an_absolute_path(tmp_path):
    with pytest.raises(StorageError, match="give an absolute path"):
        check_storage("relative/runs")
    with pytest.raises(StorageError, match="not a storage pyarrow can open"):
        check_storage("nosuchscheme://bucket/runs")
    assert check_storage(str(tmp_path)) == str(tmp_path)


def test_a_run_directory_goes_to_storage_and_comes_back_whole(tmp_path):
    run = write_run(tmp_path / "run", [synthetic_row(job_id="a", median_ms=1.0), synthetic_row(job_id="b")])
    (run / "plots").mkdir()
    (run / "plots" / "x.png").write_bytes(b"\x89PNG")
    send_tree(run, f"{tmp_path}/store/sdpa-bench-1")
    fetch_tree(f"file://{tmp_path}/store", "sdpa-bench-1", tmp_path / "home")
    assert sorted(p.relative_to(tmp_path / "home").as_posix() for p in (tmp_path / "home").rglob("*")) == [
        "manifest.json", "plots", "plots/x.png", "results.jsonl"]
    assert (tmp_path / "home" / "results.jsonl").read_text() == (run / "results.jsonl").read_text()
    with pytest.raises(StorageError, match="the job wrote no run directory there"):
        fetch_tree(str(tmp_path / "store"), "sdpa-bench-2", tmp_path / "other")


def test_the_job_is_one_process_that_packs_or_copies_what_it_wrote():
    assert shlex.split(entrypoint("sdpa-bench-1", "", False, 15.0)) == [
        "python", "-m", "orchestrator", "run", "-c", "config.yaml", "-o", "runs/sdpa-bench-1", "--address", "auto",
        "--progress-every", "15", "--pack"]
    args = shlex.split(entrypoint("sdpa-bench-1", "s3://b/runs/", True, 2.0))
    assert args[-3:] == ["--copy-to", "s3://b/runs/sdpa-bench-1", "-v"] and "&&" not in args and ";" not in args


def test_pack_prints_the_run_directory_between_the_markers(tmp_path):
    run = write_run(tmp_path / "run", [synthetic_row(job_id="a")])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        pack(run)
    lines = out.getvalue().splitlines()
    assert lines[0] == BEGIN and lines[-1] == END and all(len(line) <= 76 for line in lines[1:-1])
