"""A result row: who ran it (`DeviceInfo`), what was asked (`JobSpec`), and what came back.

One row = one job. The fixed part is the same for every job; the metrics are open: each job
declares the fields it returns beside its registry entry (`jobs/__init__.py`), from the groups
below or its own, and the worker refuses a key the job did not declare. Units are in the names.
The typed groups here give the journal reader its column types, so a column stays numeric even
when every job of a run failed; a field no group names is read with the type its values have.
"""
from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from base.point import JobSpec

Metrics = Mapping[str, Optional[float | int | str | bool]]

TIMING = {"median_ms": float, "iqr_ms": float, "min_ms": float, "n_reps": int, "ci_rel": float, "stop_reason": str,
          "timer": str, "flops": float, "tflops": float, "peak_mem_mib": float, "input_mem_mib": float,
          "kernels": str, "dispatched": str,
          "compile_s": float}  # flex's torch.compile or FA4's JIT: the first call, never in the reps
# What the timing protocol decided (jobs/timing.py, docs/methods.md): which protocol ran, what the
# warmup found (vocab.SETTLES), how long it warmed up and timed, whether the power cap held the
# clock, and the cap's cycle the window had to span
PROTOCOL = {"protocol": str, "settle": str, "warmup_ms": float, "window_ms": float, "cap_seen": bool,
            "cap_cycle_ms": float}
# GPU state during the timed reps (NVML, read every 20 ms): mean and lowest SM clock, mean
# board power, hottest GPU temperature, throttle reasons seen, other processes on the card
GPU_STATE = {"sm_clock_mhz": float, "sm_clock_min_mhz": float, "power_mean_w": float, "gpu_temp_max_c": int,
             "throttle_reasons": str, "gpu_other_processes": int}
CORRECTNESS = {"passed": bool, "check": str, "max_abs_err": float, "math_max_abs_err": float, "err_ratio": float,
               "rel_l2_err": float, "grad_err_ratio": float, "empty_rows": str}
CEILINGS = {"ceiling_float16_tflops": float, "ceiling_bfloat16_tflops": float, "ceiling_float32_tflops": float,
            "ceiling_copy_gbs": float}
KNOWN_METRICS = {**TIMING, **PROTOCOL, **GPU_STATE, **CORRECTNESS, **CEILINGS}


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

    @property
    def key(self) -> str:
        """Stable across runs (unlike Ray's node id): the GPU's UUID, else host and slot."""
        return self.gpu_uuid or f"{self.hostname}/{self.device}"


WHERE = ("node", "hostname", "device", "gpu_name", "gpu_uuid")


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
                **self.where, **dataclasses.asdict(self.spec), **self.metrics,
                "duration_s": self.duration_s, "finished_at": self.finished_at}


def make_result(job_id: str, spec: JobSpec, device: DeviceInfo, status: str, error: str = "", attempt: int = 1,
                metrics: Metrics | None = None, duration_s: float | None = None) -> Result:
    return Result(job_id, status, error, attempt, {k: getattr(device, k) for k in WHERE}, spec, dict(metrics or {}),
                  duration_s, datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"))


# The fixed columns, in row order, with their Python types (metrics follow, then duration_s, finished_at).
FIXED_TYPES = {"job_id": str, "status": str, "error": str, "attempt": int, **{k: str for k in WHERE},
               **{f.name: {"str": str, "int": int, "bool": bool}[f.type] for f in dataclasses.fields(JobSpec)}}
TAIL_TYPES = {"duration_s": float, "finished_at": str}
COLUMN_TYPES = {**FIXED_TYPES, **KNOWN_METRICS, **TAIL_TYPES}
