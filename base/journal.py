"""The run directory's journals: results.jsonl (one row per finished job) and samples.jsonl.

Every append is written, flushed and fsynced before it returns, so a run that dies keeps all it
finished. Raw samples go first: a row in results.jsonl means its samples are on disk too.
Reading goes through pyarrow's JSON reader with the row schema (base.schema): types never depend
on what the rows hold, and 100k rows load in about a second.
"""
from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from base.errors import BadInput
from base.schema import COLUMN_TYPES
from base.vocab import STATUSES

ARROW_TYPES = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
SCHEMA = pa.schema([(name, ARROW_TYPES[t]) for name, t in COLUMN_TYPES.items()])
# a metric no group in base.schema names (a new job's own field) is read with its values' type
PARSE = pajson.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="infer")
REQUIRED = ("job_id", "status")  # a line without these is not a row: `{}` counts as corrupt


class JournalError(BadInput):
    """A journal that cannot be read as it is (a corrupt line before its end); the message says where."""


class Journal:
    """Append-only JSON-lines file; each append is on disk before it returns."""

    def __init__(self, path: Path):
        self.path = path
        drop_torn_tail(path)
        # unbuffered: a write that fails (a full disk) leaves nothing behind to fail again on close;
        # what it wrote of the line is a torn tail, cut on the next open
        self._file = open(path, "ab", buffering=0)

    def append(self, row: Mapping[str, Any]) -> None:
        data = (json.dumps(row) + "\n").encode()
        while data:
            data = data[self._file.write(data):]
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def drop_torn_tail(path: Path) -> None:
    """Cut a last line that a crash left unfinished, so new rows don't glue onto it."""
    data = path.read_bytes() if path.exists() else b""
    if data and not data.endswith(b"\n"):
        warnings.warn(f"{path}: dropping a torn last line (the run was cut mid-write)")
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def complete_lines(path: Path) -> bytes:
    """The file up to its last newline; a torn last line (a crash mid-write) is left out with a warning."""
    data = path.read_bytes() if path.exists() else b""
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        warnings.warn(f"{path}: skipping a torn last line (the run was cut mid-write)")
    return complete


def read_journal_table(path: Path) -> pa.Table:
    """Every complete row of results.jsonl. A corrupt line before the last is a JournalError naming
    the line, never a silent loss."""
    complete = complete_lines(path)
    if not complete.strip():
        return SCHEMA.empty_table()
    why = ""
    try:
        table = pajson.read_json(io.BytesIO(complete), parse_options=PARSE)
    except pa.ArrowInvalid as err:
        table, why = None, str(err)
    if table is None or any(table[k].null_count for k in REQUIRED) or not pc.all(
            pc.is_in(table["status"], value_set=pa.array(STATUSES))).as_py():
        number, what = first_bad_line(complete) or (0, f"a row does not fit the row schema: {why}")
        raise JournalError(f"{path}:{number}: corrupt line in the journal ({what}); "
                           "move the file aside or cut that line, then try again")
    return table


def first_bad_line(data: bytes) -> tuple[int, str] | None:
    """(1-based number, what is wrong) of the first line that is not a result row, or None."""
    for number, line in enumerate(data.splitlines(), 1):
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return number, "not JSON"
        if not isinstance(row, dict) or any(not isinstance(row.get(k), str) for k in REQUIRED):
            return number, f"not a result row: it lacks {' or '.join(REQUIRED)}"
        if row["status"] not in STATUSES:
            return number, f"status {row['status'][:40]!r} is none of {', '.join(STATUSES)}"
    return None


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete row as a dict (None where a row lacks a known field)."""
    return read_journal_table(path).to_pylist()


def prune_samples(path: Path, keep: set[str]) -> None:
    """Keep only the samples of jobs that have a row, once each: a run stopped between a job's
    samples and its row (a full disk, a kill) reruns that job on --resume, which writes them again."""
    samples = read_samples(path) if path.exists() else {}
    if set(samples) <= keep and len(complete_lines(path).splitlines()) == len(samples):
        return
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps({"job_id": j, "samples_ms": s}) + "\n" for j, s in samples.items() if j in keep))
    tmp.replace(path)


def read_samples(path: Path) -> dict[str, list[float]]:
    """job_id -> raw samples in ms; where a resumed run wrote a job's samples twice, the last wins."""
    return {row["job_id"]: row["samples_ms"] for row in map(json.loads, complete_lines(path).splitlines())}
