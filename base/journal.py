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


def longest_line(data: bytes) -> int:
    """The length of the longest line, found without splitting the file into a million bytes objects."""
    pos, longest = 0, 0
    while (end := data.find(b"\n", pos)) != -1:
        longest, pos = max(longest, end - pos), end + 1
    return max(longest, len(data) - pos)


def read_journal_table(path: Path, types: Mapping[str, type], required: tuple[str, ...] = REQUIRED) -> pa.Table:
    """Every complete row of results.jsonl, each column `types` names typed so, any other read with
    its values' type; a row without a value in each `required` column is corrupt."""
    complete = complete_lines(path)
    schema = arrow_schema(types)
    if not complete or complete.isspace():  # not .strip(): that copies the whole file
        return schema.empty_table()
    try:
        complete.decode("utf-8")  # pyarrow would take some invalid bytes, then fail on them later
    except UnicodeDecodeError:
        raise corrupt(path, complete, "not UTF-8", types, required) from None
    read = pajson.ReadOptions(block_size=max(MIN_BLOCK_BYTES, 2 * longest_line(complete) + 2))  # whole lines
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    try:
        table = pajson.read_json(io.BytesIO(complete), read_options=read, parse_options=parse)
    except pa.ArrowException as err:
        raise corrupt(path, complete, f"a row does not fit the run's column types: {str(err)[:200]}", types,
                      required) from None
    if not sound(table, required):
        raise corrupt(path, complete, "a row that is not a result row", types, required)
    return table


def sound(table: pa.Table, required: tuple[str, ...]) -> bool:
    """Every row has its required columns, a status of the vocabulary, and flat values only."""
    if not set(required) <= set(table.column_names) or any(pa.types.is_nested(f.type) for f in table.schema):
        return False
    return not any(table[k].null_count for k in required) and pc.all(
        pc.is_in(table["status"], value_set=pa.array(STATUSES))).as_py()


def corrupt(path: Path, data: bytes, why: str, types: Mapping[str, type] | None = None,
            required: tuple[str, ...] = REQUIRED) -> JournalError:
    """The error naming the first line that is not a result row; `why` where no one line is to blame."""
    bad = first_bad_line(data, types or {}, required)
    where, what = (f"{path}:{bad[0]}: corrupt line", bad[1]) if bad else (f"{path}: corrupt", why)
    return JournalError(f"{where} in the journal ({what}); move the file aside or cut that line, then try again")


def first_bad_line(data: bytes, types: Mapping[str, type] | None = None,
                   required: tuple[str, ...] = REQUIRED) -> tuple[int, str] | None:
    """(1-based number, what is wrong) of the first line that is not a result row, or None: not
    UTF-8 or JSON, a required column missing, a status outside the vocabulary, a list or an
    object, a value not of its column's type (`types`; a column they do not name keeps the kind
    of value its first row gave it)."""
    seen: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(data.splitlines(), 1):
        try:
            row = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            return number, "not UTF-8"
        except json.JSONDecodeError:
            return number, "not JSON"
        if (what := bad_row(row, types or {}, required, seen, number)):
            return number, what
    return None


def bad_row(row: Any, types: Mapping[str, type], required: tuple[str, ...], seen: dict[str, tuple[str, int]],
            number: int) -> str:
    """What is wrong with one parsed line, or ""; `seen` keeps each unnamed column's first kind."""
    missing = [k for k in required if not isinstance(row, dict) or not isinstance(row.get(k), str)]
    if missing:
        return f"not a result row: it lacks {', '.join(missing[:3])}"
    if row["status"] not in STATUSES:
        return f"status {row['status'][:40]!r} is none of {', '.join(STATUSES)}"
    for key, value in row.items():
        if isinstance(value, (dict, list)):
            return f"field {str(key)[:40]!r} holds a list or an object; rows hold flat values"
        if value is None:
            continue
        if key in types and not fits(value, types[key]):
            return f"field {key[:40]!r} holds {str(value)[:40]!r}, not a {types[key].__name__}"
        first = seen.setdefault(key, (kind(value), number))
        if key not in types and first[0] != kind(value):
            return f"field {key[:40]!r} holds {str(value)[:40]!r}, where line {first[1]} holds a {first[0]}"
    return ""


def kind(value: Any) -> str:
    """What pyarrow makes of a JSON value: a column holds one kind."""
    return "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "string"


def fits(value: Any, column: type) -> bool:
    """A JSON value that a column of this type holds: an int fits a float column, a bool no number column."""
    if isinstance(value, bool):
        return column is bool
    if isinstance(value, int):
        return column in (int, float)
    return isinstance(value, column)


def read_journal(path: Path, types: Mapping[str, type] | None = None,
                 required: tuple[str, ...] = REQUIRED) -> list[dict[str, Any]]:
    """Every complete row as the dict it was written as (the driver's resume and the tests), each
    checked as `read_journal_table` would read it."""
    complete = complete_lines(path)
    if first_bad_line(complete, types, required) is not None:
        raise corrupt(path, complete, "", types, required)
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
