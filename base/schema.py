"""A result row (`Result`): who ran it (`DeviceInfo`), what was asked (`JobSpec`), what came back,
and the types of a run's columns (`column_types`, from the run directory's schema.json).

One row = one job, flat values, units in the names. The fixed columns are the same for every job;
then the job's parameters and the metrics it returned, both declared by the job (jobs/__init__.py).
A run writes the types of every column its jobs can produce into schema.json, with each job's
`ReportHints`, so that a reader of the run (the journal reader, `analysis/`) needs no job's code:
an old run and a run with a new job load alike.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from base.point import JobSpec

Metrics = Mapping[str, Optional[float | int | str | bool]]
TYPE_NAMES = {"str": str, "int": int, "float": float, "bool": bool}


@dataclass(frozen=True)
class DeviceInfo:
    """One worker's device and the software around it; the manifest keeps one per worker."""
    node: str
    hostname: str
    device: str  # cuda:N (N = the GPU's index on its node, as nvidia-smi shows it) or cpu
    compute: str  # the torch device the jobs use: cuda:0 or cpu
    gpu_name: str
    gpu_uuid: str
    memory_gib: float | None
    sm_count: int | None
    compute_capability: str
    torch_version: str
    cuda_version: str
    cudnn_version: str
    driver_version: str
    sm_clock_max_mhz: int | None = None  # NVML's maximum SM clock
    power_limit_w: float | None = None  # NVML's enforced power limit: what the card may draw
    pid: int = 0  # the worker process (a restarted worker has a new one)
    cuda_visible_devices: str = ""  # as Ray narrowed it for this worker: one GPU each
    packages: str = ""  # optional attention packages the worker can import, with versions

    @property
    def key(self) -> str:
        """Stable across runs (unlike Ray's node id): the GPU's UUID, else host and slot."""
        return self.gpu_uuid or f"{self.hostname}/{self.device}"


WHERE = ("node", "hostname", "device", "gpu_name", "gpu_uuid")


@dataclass(frozen=True)
class ReportHints:
    """How the report shows a job's rows; each job declares its own (jobs/__init__.py)."""
    kind: str  # speed (a timed point), check (a correctness verdict), ceilings (a device's peaks), none
    x: str = ""  # speed: the parameter a family's curve runs along (seq_len, kv_len)
    speed: str = ""  # speed: the metric `fastest` ranks by (tflops, gbs)
    by: str = ""  # speed: a parameter the headline also ranks within (decode: batch, where split-KV decides)


@dataclass(frozen=True)
class Result:
    """One job on one device; `row()` is what results.jsonl holds."""
    job_id: str
    status: str  # one of vocab.STATUSES
    error: str
    attempt: int
    where: Mapping[str, str]  # the WHERE fields of the device
    spec: JobSpec
    metrics: Metrics = field(default_factory=dict)
    duration_s: float | None = None
    finished_at: str = ""

    def row(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": self.status, "error": self.error, "attempt": self.attempt,
                **self.where, **self.spec.fields(), **self.metrics,
                "duration_s": self.duration_s, "finished_at": self.finished_at}


MAX_ERROR_CHARS = 8000  # a row's error text at most: one job's 2 MB exception must not cost the run its journal


def clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text`, or its head and its tail with how much was cut between them, in `limit` characters."""
    if len(text) <= limit:
        return text
    room = limit - len(f"\n[... {len(text)} characters cut ...]\n")
    head, tail = text[:room - room // 2], text[len(text) - room // 2:]
    return f"{head}\n[... {len(text) - len(head) - len(tail)} characters cut ...]\n{tail}"


def make_result(job_id: str, spec: JobSpec, device: DeviceInfo, status: str, error: str = "", attempt: int = 1,
                metrics: Metrics | None = None, duration_s: float | None = None) -> Result:
    return Result(job_id, status, clip(error), attempt, {k: getattr(device, k) for k in WHERE}, spec,
                  dict(metrics or {}), duration_s,
                  datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"))


# The columns every row has, in row order (the job's parameters and metrics follow, then TAIL_TYPES).
FIXED_TYPES = {"job_id": str, "status": str, "error": str, "attempt": int, **{k: str for k in WHERE},
               "job": str, "sweep": str, "seed": int, "point": str, "family": str, "implementation": str}
TAIL_TYPES = {"duration_s": float, "finished_at": str}
# The columns no reader can do without: a row lacking one is corrupt. Format 1 rows had no names.
CORE = ("job_id", "status", "job", "sweep", "hostname", "device", "gpu_name")
NAMES = ("point", "family", "implementation")


def core_columns(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The columns every row of a run with this schema.json holds."""
    return CORE + (NAMES if schema["format"] >= 2 else ())


def column_types(schema: Mapping[str, Any]) -> dict[str, type]:
    """Column name -> Python type, from a schema.json's `columns` (type names)."""
    return {name: TYPE_NAMES[t] for name, t in schema["columns"].items()}


def job_hints(schema: Mapping[str, Any]) -> dict[str, ReportHints]:
    """Job name -> its ReportHints, from a schema.json's `jobs`."""
    return {name: ReportHints(**job.get("report", {"kind": "none"})) for name, job in schema["jobs"].items()}
