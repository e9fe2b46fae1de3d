"""Run directories written before schema.json existed (format 1), and the job ids they used.

Format 1 rows had one fixed set of columns for every job: the attention point's fields and every
job's metric groups, and no `point`, `family` or `implementation` column. A reader of such a run
takes its column types and report hints from here and computes the three names as format 1's
report did. New runs never use these tables.

Job ids stay what format 1 made them, so the same point on the same device keeps its id from one
version to the next: the id hashes format 1's point fields (at format 1's defaults where a job has
no such field) and any newer parameter that differs from its default.
"""
from __future__ import annotations

from typing import Any, Mapping

from base.schema import FIXED_TYPES, TAIL_TYPES

POINT_TYPES = {"job": str, "sweep": str, "backend": str, "dtype": str, "batch": int, "heads": int, "kv_heads": int,
               "seq_len": int, "kv_len": int, "head_dim": int, "causal": bool, "mode": str, "inputs": str,
               "seed": int, "mask": str, "candidate": str, "fault": str, "flash_impl": str}
# what a format 1 id hashed for a field its JobSpec left at the default (device_ceilings left them all)
ID_DEFAULTS = {"backend": "", "dtype": "", "batch": 0, "heads": 0, "kv_heads": 0, "seq_len": 0, "kv_len": 0,
               "head_dim": 0, "causal": False, "mode": "", "inputs": "", "mask": "is_causal", "candidate": "",
               "fault": "none"}
# what a row written before one of these point fields existed meant
ROW_DEFAULTS = {"mask": "is_causal", "candidate": "", "fault": "none", "flash_impl": "builtin"}
METRIC_TYPES = {
    "median_ms": float, "iqr_ms": float, "min_ms": float, "n_reps": int, "ci_rel": float, "stop_reason": str,
    "timer": str, "flops": float, "tflops": float, "peak_mem_mib": float, "input_mem_mib": float, "kernels": str,
    "dispatched": str, "compile_s": float, "protocol": str, "settle": str, "warmup_ms": float, "window_ms": float,
    "cap_seen": bool, "cap_cycle_ms": float, "sm_clock_mhz": float, "sm_clock_min_mhz": float,
    "power_mean_w": float, "gpu_temp_max_c": int, "throttle_reasons": str, "gpu_other_processes": int,
    "passed": bool, "check": str, "max_abs_err": float, "math_max_abs_err": float, "err_ratio": float,
    "rel_l2_err": float, "grad_err_ratio": float, "empty_rows": str, "ceiling_float16_tflops": float,
    "ceiling_bfloat16_tflops": float, "ceiling_float32_tflops": float, "ceiling_copy_gbs": float}
HINTS = {"sdpa_benchmark": {"kind": "speed", "x": "seq_len", "speed": "tflops"},
         "causal_correctness": {"kind": "check"}, "device_ceilings": {"kind": "ceilings"},
         "fault_injection": {"kind": "none"}}
PARAMS = [k for k in POINT_TYPES if k not in ("job", "sweep", "seed")]
REQUIRED = object()  # a parameter with no default: always hashed


def schema() -> dict[str, Any]:
    """A format 1 run's schema.json, as a format 2 run would have written it."""
    fixed = {k: v for k, v in FIXED_TYPES.items() if k not in ("point", "family", "implementation")}
    columns = {**fixed, **POINT_TYPES, **METRIC_TYPES, **TAIL_TYPES}
    jobs = {name: {"params": PARAMS, "metrics": list(METRIC_TYPES), "report": hints} for name, hints in HINTS.items()}
    return {"format": 1, "columns": {k: t.__name__ for k, t in columns.items()}, "jobs": jobs}


def point_label(p: Mapping[str, Any]) -> str:
    """`b4 h16 s4096 d128 bfloat16 causal fwd`, with kv heads and length, a mask other than is_causal
    and inputs other than randn only where they differ: the label jobs.dense gives the same point."""
    kv = "" if (p["kv_heads"], p["kv_len"]) == (p["heads"], p["seq_len"]) else f" kv{p['kv_heads']}x{p['kv_len']}"
    mask = p.get("mask") or "is_causal"
    causal = "" if not p["causal"] else " causal" if mask == "is_causal" else f" causal({mask})"
    inputs = "" if p.get("inputs", "randn") == "randn" else f" {p['inputs']}"
    return f"b{p['batch']} h{p['heads']} s{p['seq_len']} d{p['head_dim']}{kv} {p['dtype']}{causal} {p['mode']}{inputs}"


def family_label(p: Mapping[str, Any]) -> str:
    return f"{p['dtype']} d{p['head_dim']} {'causal' if p['causal'] else 'non-causal'} {p['mode']}"


def implementation(backend: str, flash_impl: str | None) -> str:
    """The backend, with the flash kernel behind it where not torch's own (`flash[FA4]`)."""
    return backend if not flash_impl or flash_impl == "builtin" else f"{backend}[{flash_impl}]"


def id_fields(fields: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """What a job id hashes: format 1's point fields, then the newer parameters where they are not at
    their default (`defaults`: each parameter of the job -> its default, or REQUIRED); flash_impl
    only where not `builtin`."""
    shared = {k: fields[k] for k in ("job", "sweep", "seed")}
    old = {k: fields.get(k, ID_DEFAULTS.get(k)) for k in POINT_TYPES if k not in shared and k != "flash_impl"}
    new = {k: fields[k] for k, default in defaults.items() if k not in POINT_TYPES and fields[k] != default}
    flash = {"flash_impl": fields["flash_impl"]} if fields.get("flash_impl", "builtin") != "builtin" else {}
    return {**shared, **old, **flash, **new}
