"""The journal reader takes every line the writer can write, and answers any other with one line
naming the file and the line, exit 2: invalid UTF-8, a row missing a core column, a value of another
type than the run's schema gives its column, a list or an object; and a run directory of a newer
format (schema.json's or manifest.json's) is refused before anything is read or written."""
import json

import pytest

from base.journal import Journal, read_journal
from base.rundir import SCHEMA_FORMAT, RunDir
from orchestrator.cli import main
from tests.conftest import synthetic_row, write_run
from tests.test_bad_input import GOOD


def timed_row(**fields) -> dict:
    return synthetic_row(**{"median_ms": 1.0, "iqr_ms": 0.0, "tflops": 1.0, **fields})


def refused(capsys, argv: list[str], message: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_a_line_of_megabytes_is_read_as_written(tmp_path):
    run_dir = write_run(tmp_path / "run", [timed_row(job_id="a")])
    journal = Journal(run_dir / "results.jsonl")
    journal.append(synthetic_row(job_id="b", status="error", error="x" * 3_000_000))
    journal.close()
    assert [len(r["error"]) for r in read_journal(run_dir / "results.jsonl")] == [0, 3_000_000]
    assert main(["report", str(run_dir)]) == 0


def append_line(run_dir, line: bytes) -> None:
    with open(run_dir / "results.jsonl", "ab") as f:
        f.write(line + b"\n")


def row_bytes(**fields) -> bytes:
    return json.dumps(timed_row(job_id="b", **fields)).encode()


@pytest.mark.parametrize("line,message", [
    (row_bytes(sweep="s").replace(b'"s"', b'"s\xe9"'), "results.jsonl:2: corrupt line in the journal (not UTF-8)"),
    (json.dumps({k: v for k, v in timed_row(job_id="b").items() if k != "gpu_name"}).encode(),
     "results.jsonl:2: corrupt line in the journal (not a result row: it lacks gpu_name)"),
    (row_bytes(job=None), "results.jsonl:2: corrupt line in the journal (not a result row: it lacks job)"),
    (row_bytes(seq_len="long"), "results.jsonl:2: corrupt line in the journal (field 'seq_len' holds 'long', not a int)"),
    (row_bytes(extra={"nested": 1}), "results.jsonl:2: corrupt line in the journal (field 'extra' holds a list or an object"),
    (row_bytes(extra=[1, 2]), "results.jsonl:2: corrupt line in the journal (field 'extra' holds a list or an object"),
])
def test_a_line_the_writer_cannot_have_written_is_one_line_naming_it(line, message, tmp_path, capsys):
    run_dir = write_run(tmp_path / "run", [timed_row(job_id="a")])
    (run_dir / "config.yaml").write_text(GOOD)
    append_line(run_dir, line)
    refused(capsys, ["report", str(run_dir)], message)
    refused(capsys, ["run", "--resume", str(run_dir)], message)


def test_a_column_only_some_rows_have_must_keep_one_type(tmp_path, capsys):
    run_dir = write_run(tmp_path / "run", [timed_row(job_id="a", note=1.5)])
    append_line(run_dir, row_bytes(note="text"))
    refused(capsys, ["report", str(run_dir)], "results.jsonl:2: corrupt line in the journal (field 'note' holds 'text', "
                                              "where line 1 holds a number)")


def test_a_run_directory_of_a_newer_format_is_refused(tmp_path, capsys):
    run_dir = write_run(tmp_path / "run", [timed_row(job_id="a")])
    (run_dir / "config.yaml").write_text(GOOD)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "format": SCHEMA_FORMAT + 1}))
    before = (run_dir / "manifest.json").read_text()
    for argv in (["report", str(run_dir)], ["run", "--resume", str(run_dir)]):
        refused(capsys, argv, f"manifest.json: format {SCHEMA_FORMAT + 1} is newer than this sdpa-bench reads "
                              f"({SCHEMA_FORMAT}); upgrade sdpa-bench to read this run")
    assert (run_dir / "manifest.json").read_text() == before
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "schema.json").write_text(json.dumps({"format": SCHEMA_FORMAT + 1, "columns": {}, "jobs": {}}))
    refused(capsys, ["report", str(run_dir)], f"schema.json: format {SCHEMA_FORMAT + 1} is newer than this sdpa-bench")


def test_a_new_run_writes_its_format_into_the_manifest(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    run_dir.open_session({}, "sweeps: []\n", {"format": SCHEMA_FORMAT, "columns": {}, "jobs": {}}, [], {})
    run_dir.unlock()
    assert json.loads(run_dir.file("manifest.json").read_text())["format"] == SCHEMA_FORMAT
