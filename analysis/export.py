"""`sdpa-bench export RUN... --format pytorch-v3 -o FILE`: runs as records of PyTorch's benchmark
database, schema v3 (pytorch/test-infra, clickhouse_db_schema/benchmark.oss_ci_benchmark_v3),
one JSON record a line, the JSONEachRow form its uploader (.github/scripts/upload_benchmark_results.py)
reads. A record is one metric of one row:

    benchmark     name `sdpa-bench <sweep>`; mode inference (fwd, decode) or training (fwd_bwd, bwd);
                  dtype; extra_info: the job, its own mode, the point's label and family, the run and its start
    model         name: the implementation; type: the job; backend: the kernel `default` dispatched to
    metric        median_ms, the job's speed (tflops or gbs), err_ratio for a check, each ceiling of a
                  device_ceilings row; benchmark_values: [the value]; extra_info: unit, status, timer...
    runners       the device: cuda or cpu, its model, memory; extra_info: host, slot, UUID, clocks, power limit
    dependencies  torch, CUDA, cuDNN, the NVIDIA driver, each optional package the worker could import
                  (flash-attn-4, flashinfer-python, ...), with their versions
    inputs        query, key, value: dtype and shape, for the jobs whose points have them

A row that did not end ok keeps its metrics with no value (`benchmark_values: []`) and its status
and error in `metric.extra_info`: never a 0, which a dashboard would draw as a real time.
Every extra_info value is a string (the schema's Map(String, String)). The upload's own metadata
(timestamp, repo, head_sha, workflow_id, job_id, ...) is the uploader's to set: a record leaves it
out, and says when it was measured in benchmark.extra_info (`run_started_at`, `finished_at`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from analysis.frame import load_runs, run_names
from base.errors import BadInput
from base.rundir import RunDir

FORMATS = ("pytorch-v3",)
TRAINING_MODES = {"fwd_bwd", "bwd"}
# a package the worker names -> the repository it comes from
REPOS = {"torch": "pytorch/pytorch", "flash-attn-4": "Dao-AILab/flash-attention", "triton": "triton-lang/triton",
         "flashinfer-python": "flashinfer-ai/flashinfer", "nvidia-cutlass-dsl": "NVIDIA/cutlass",
         "quack-kernels": "Dao-AILab/quack"}
METRIC_INFO = ("timer", "protocol", "iqr_ms", "n_reps", "ci_rel", "stop_reason", "settle", "sm_clock_mhz",
               "passed", "check")
SPEED_METRICS = {"TFLOPS": "tflops", "GB/s": "gbs"}  # the row's speed_unit -> its metric (column) name
UNITS = {"median_ms": "ms", "tflops": "TFLOPS", "gbs": "GB/s", "err_ratio": "× the input-dtype formula's error"}


def text(value) -> str:
    """A Map(String, String) value: "" for a missing one, `true`/`false`, numbers as Python prints them."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def strings(values: dict) -> dict[str, str]:
    """Only the fields that have a value."""
    return {k: text(v) for k, v in values.items() if text(v) != ""}


def metric_names(row: dict) -> list[str]:
    """The metrics a row of its kind reports, whether it has their values or not (a failed row too)."""
    if row["kind"] == "speed":
        return ["median_ms", SPEED_METRICS[row["speed_unit"]]]
    if row["kind"] == "check":
        return ["err_ratio"]
    if row["kind"] == "ceilings":
        names = sorted(k for k in row if k.startswith("ceiling_"))
        return [k for k in names if text(row[k])] if row["status"] == "ok" else names
    return []  # fault injection: nothing a dashboard tracks


def benchmark(row: dict, started: str) -> dict:
    mode = text(row.get("mode"))
    kind = "training" if mode in TRAINING_MODES else "inference" if row["kind"] in ("speed", "check") else ""
    return {"name": f"sdpa-bench {row['sweep']}", "mode": kind,
            "dtype": text(row.get("dtype")),
            "extra_info": strings({"job": row["job"], "mode": mode, "point": row["point"], "family": row["family"],
                                   "run": row["run"], "run_started_at": started, "finished_at": row["finished_at"],
                                   "job_id": row["job_id"]})}


def model(row: dict) -> dict:
    return {"name": text(row["implementation"]) or row["job"], "type": row["job"],
            "backend": text(row.get("dispatched")), "origins": ["sdpa-bench"],
            "extra_info": strings({"flash_impl": row.get("flash_impl"), "candidate": row.get("candidate")})}


def runner(row: dict) -> dict:
    gpu = str(row["device"]).startswith("cuda")
    memory = row.get("memory_gib")
    return {"name": "cuda" if gpu else "cpu", "type": row["gpu_name"], "gpu_info": row["gpu_name"] if gpu else "",
            "cpu_info": "" if gpu else row["gpu_name"], "gpu_count": 1 if gpu else 0,
            **({"avail_gpu_mem_in_gb": int(memory)} if gpu and text(memory) else {}),
            "extra_info": strings({"hostname": row["hostname"], "device": row["device"], "gpu_uuid": row["gpu_uuid"],
                                   "node": row["node"], "compute_capability": row.get("compute_capability"),
                                   "sm_count": row.get("sm_count"), "sm_clock_max_mhz": row.get("sm_clock_max_mhz"),
                                   "power_limit_w": row.get("power_limit_w")})}


def dependencies(row: dict) -> dict:
    """torch, CUDA, cuDNN, the driver, then each optional package as the worker listed it (`name version, ...`)."""
    found = {"torch": row.get("torch_version"), "cuda": row.get("cuda_version"), "cudnn": row.get("cudnn_version"),
             "nvidia-driver": row.get("driver_version")}
    for package in text(row.get("packages")).split(","):
        name, _, version = package.strip().partition(" ")
        if name:
            found[name] = version
    return {name: {"version": text(version), **({"repo": REPOS[name]} if name in REPOS else {})}
            for name, version in found.items() if text(version)}


def inputs(row: dict) -> dict:
    """q, k and v of a dense point; empty for a job whose points have no such shape."""
    sizes = [row.get(k) for k in ("batch", "heads", "seq_len", "head_dim", "kv_heads", "kv_len")]
    if any(text(s) in ("", "0") for s in sizes):
        return {}
    b, h, s, d, kv_h, kv_s = (int(x) for x in sizes)
    shapes = {"query": (b, h, s, d), "key": (b, kv_h, kv_s, d), "value": (b, kv_h, kv_s, d)}
    return {name: {"dtype": text(row.get("dtype")), "extra_info": {"shape": str(list(shape))}}
            for name, shape in shapes.items()}


def metric(row: dict, name: str) -> dict:
    value = row.get(name)
    measured = row["status"] == "ok" and text(value) != ""
    info = {"unit": UNITS.get(name, "TFLOPS" if name.endswith("_tflops") else "GB/s"), "status": row["status"],
            "error": text(row["error"]).split("\n")[0][:500], **{k: row.get(k) for k in METRIC_INFO}}
    return {"name": name, "benchmark_values": [float(value)] if measured else [], "extra_info": strings(info)}


def records(row: dict, started: str) -> list[dict]:
    common = {"benchmark": benchmark(row, started), "model": model(row), "runners": [runner(row)],
              "dependencies": dependencies(row), "inputs": inputs(row)}
    return [{**common, "metric": metric(row, name)} for name in metric_names(row)]


def started_at(run_dirs: list[Path]) -> dict[str, str]:
    """run name -> when its first session started."""
    sessions = [RunDir(d).manifest()["sessions"] or [{}] for d in run_dirs]
    return {name: s[0].get("started_at", "") for name, s in zip(run_names(run_dirs), sessions)}


def export(run_dirs: list[Path], out: Path, format: str = "pytorch-v3") -> int:
    """Write the records of `run_dirs` to `out`; returns how many."""
    if format not in FORMATS:
        raise BadInput(f"--format {format}: choose one of {', '.join(FORMATS)}")
    frame = load_runs(run_dirs)
    started = started_at(run_dirs)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    try:
        with open(out, "w", encoding="utf-8") as f:
            count = 0
            for row in rows:
                for record in records(row, started[row["run"]]):
                    f.write(json.dumps(record) + "\n")
                    count += 1
    except OSError as err:
        raise BadInput(f"{out}: cannot write the export there: {err.strerror or err}") from None
    return count
