"""One result row (`Result`) and the append-only journal that holds them.

Every row is written, flushed and fsynced the moment it arrives, so a run that dies keeps all
it finished. Raw timing samples go to a sibling journal keyed by job id, written first: a row
in results.jsonl means its samples are on disk too.
"""
from __future__ import annotations

import dataclasses
import datetime
import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.json as pajson

from jobs.spec import JobSpec
from orchestrator.devices import DeviceInfo


@dataclass(frozen=True)
class Result:
    """One job on one device: a flat row, units in the field names."""
    job_id: str
    job: str
    sweep: str
    status: str  # ok | oom | unsupported | error | crashed | timeout | skipped
    error: str
    attempt: int
    # where it ran
    node: str
    hostname: str
    device: str  # cuda:N (N = the GPU's index on its node) or cpu
    gpu_name: str
    gpu_uuid: str
    # the point
    backend: str
    dtype: str
    batch: int
    heads: int
    kv_heads: int
    seq_len: int
    kv_len: int
    head_dim: int
    causal: bool
    mode: str
    inputs: str
    seed: int
    mask: str
    candidate: str
    fault: str
    # the measurement (None when the job did not get that far)
    median_ms: float | None = None
    iqr_ms: float | None = None
    min_ms: float | None = None
    n_reps: int | None = None
    ci_rel: float | None = None
    stop_reason: str | None = None
    timer: str | None = None  # cuda_events | cuda_graph | perf_counter
    flops: float | None = None
    tflops: float | None = None
    peak_mem_mib: float | None = None
    input_mem_mib: float | None = None
    kernels: str | None = None
    dispatched: str | None = None
    # GPU state during the timed reps (NVML, read after each batch): mean and lowest SM clock, mean
    # board power, hottest GPU temperature, throttle reasons seen
    sm_clock_mhz: float | None = None
    sm_clock_min_mhz: float | None = None
    power_mean_w: float | None = None
    gpu_temp_max_c: int | None = None
    throttle_reasons: str | None = None
    gpu_other_processes: int | None = None  # other compute processes on the card at the end
    # causal_correctness rows: errors against the float64 reference, and math's in the same dtype
    passed: bool | None = None
    check: str | None = None  # "pass", or "FAIL ..." naming what is wrong
    max_abs_err: float | None = None
    math_max_abs_err: float | None = None
    err_ratio: float | None = None  # max_abs_err / math_max_abs_err; the pass rule allows 2 (+ noise)
    rel_l2_err: float | None = None
    grad_err_ratio: float | None = None  # worst of dq, dk, dv, when gradients were checked
    empty_rows: str | None = None  # what came back for query rows with no key: zeros | nan | other
    # device_ceilings rows
    ceiling_float16_tflops: float | None = None
    ceiling_bfloat16_tflops: float | None = None
    ceiling_float32_tflops: float | None = None
    ceiling_copy_gbs: float | None = None
    duration_s: float | None = None
    finished_at: str = ""


def make_result(job_id: str, spec: JobSpec, device: DeviceInfo, status: str, error: str = "",
                attempt: int = 1, metrics: Mapping[str, Any] | None = None,
                duration_s: float | None = None) -> Result:
    where = {k: getattr(device, k) for k in ("node", "hostname", "device", "gpu_name", "gpu_uuid")}
    return Result(job_id=job_id, status=status, error=error, attempt=attempt, **where,
                  **dataclasses.asdict(spec), **(metrics or {}), duration_s=duration_s,
                  finished_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"))


ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
SCHEMA = pa.schema([(f.name, ARROW_TYPES[f.type.split(" |")[0]]) for f in dataclasses.fields(Result)])
PARSE = pajson.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")


class Journal:
    """Append-only JSON-lines file; each append is on disk before it returns."""

    def __init__(self, path: Path):
        self.path = path
        drop_torn_tail(path)
        self._file = open(path, "a", encoding="utf-8")

    def append(self, row: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
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


def read_journal_table(path: Path) -> pa.Table:
    """Every complete row, through pyarrow's JSON reader with the Result schema: types never
    depend on what the rows hold, and 100k rows load in ~1 s (json.loads per line: ~3.5 s).
    A torn last line (no newline: a crash mid-write) is skipped with a warning; a corrupt line
    before it is an error, never a silent loss."""
    data = path.read_bytes() if path.exists() else b""
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        warnings.warn(f"{path}: skipping a torn last line (the run was cut mid-write)")
    if not complete.strip():
        return SCHEMA.empty_table()
    try:
        return pajson.read_json(io.BytesIO(complete), parse_options=PARSE)
    except pa.ArrowInvalid as err:
        raise ValueError(f"{path}:{first_bad_line(complete)}: corrupt line in the middle of the journal: {err}") from None


def first_bad_line(data: bytes) -> int:
    """1-based number of the first line that is not JSON (0 if all are: a row off the schema)."""
    for number, line in enumerate(data.splitlines(), 1):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            return number
    return 0


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete row as a dict with every Result field (None where a row lacks one)."""
    return read_journal_table(path).to_pylist()
