"""The run directory's journals: results.jsonl (one row per finished job) and samples.jsonl.

Every append is written, flushed and fsynced before it returns, so a run that dies keeps all it
finished. Raw samples go first: a row in results.jsonl means its samples are on disk too.
Reading goes through pyarrow's JSON reader with the run's column types (base/rundir.py): types
never depend on what the rows hold, and 100k rows load in about a second. The reader takes every
line the writer can write, however long; a line the writer cannot have written is a
`JournalError` naming the file and the line.
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
from base.vocab import STATUSES

ARROW_TYPES = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
REQUIRED = ("job_id", "status")  # a line without these is not a row: `{}` counts as corrupt
MIN_BLOCK_BYTES = 1 << 20


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


def arrow_schema(types: Mapping[str, type]) -> pa.Schema:
    return pa.schema([(name, ARROW_TYPES[t]) for name, t in types.items()])


def read_journal_table(path: Path, types: Mapping[str, type]) -> pa.Table:
    """Every complete row of results.jsonl, each column `types` names typed so, any other read with
    its values' type."""
    complete = complete_lines(path)
    schema = arrow_schema(types)
    if not complete.strip():
        return schema.empty_table()
    longest = max(len(line) for line in complete.split(b"\n"))
    read = pajson.ReadOptions(block_size=max(MIN_BLOCK_BYTES, 2 * longest + 2))  # a block holds whole lines
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    try:
        table = pajson.read_json(io.BytesIO(complete), read_options=read, parse_options=parse)
    except pa.ArrowInvalid as err:
        raise corrupt(path, complete, f"a row does not fit the run's column types: {str(err)[:200]}") from None
    nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
    if any(table[k].null_count for k in REQUIRED if k in table.column_names) or not pc.all(
            pc.is_in(table["status"], value_set=pa.array(STATUSES))).as_py() or nested or \
            not set(REQUIRED) <= set(table.column_names):
        raise corrupt(path, complete, f"field {nested[0]!r} holds a list or an object" if nested else "")
    return table


def corrupt(path: Path, data: bytes, why: str) -> JournalError:
    number, what = first_bad_line(data) or (0, why or "a row that is not a result row")
    return JournalError(f"{path}:{number}: corrupt line in the journal ({what}); "
                        "move the file aside or cut that line, then try again")


def first_bad_line(data: bytes) -> tuple[int, str] | None:
    """(1-based number, what is wrong) of the first line that is not a result row, or None."""
    for number, line in enumerate(data.splitlines(), 1):
        try:
            row = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            return number, "not UTF-8"
        except json.JSONDecodeError:
            return number, "not JSON"
        if not isinstance(row, dict) or any(not isinstance(row.get(k), str) for k in REQUIRED):
            return number, f"not a result row: it lacks {', '.join(REQUIRED)}"
        if row["status"] not in STATUSES:
            return number, f"status {row['status'][:40]!r} is none of {', '.join(STATUSES)}"
        nested = next((k for k, v in row.items() if isinstance(v, (dict, list))), None)
        if nested is not None:
            return number, f"field {str(nested)[:40]!r} holds a list or an object; rows hold flat values"
    return None


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete row as the dict it was written as (the driver's resume and the tests)."""
    complete = complete_lines(path)
    if (bad := first_bad_line(complete)) is not None:
        raise corrupt(path, complete, bad[1])
    return [json.loads(line) for line in complete.splitlines()]


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
