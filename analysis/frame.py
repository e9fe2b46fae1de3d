"""Results of a run as a pandas DataFrame: one row per job, the columns of `Result`."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd

from jobs.spec import JobSpec
from orchestrator.results import Result, read_journal_table

COLUMNS = [f.name for f in dataclasses.fields(Result)]  # plus device_label and pct_of_peak
# Columns that may be None in a row get a nullable dtype, so a column stays numeric even when
# every job of a run failed (or ran on a CPU, which has no peak-memory counter).
DTYPES = {f.name: {"float | None": "float64", "int | None": "Int64", "str | None": "string",
                   "bool | None": "boolean"}[f.type]
          for f in dataclasses.fields(Result) if "None" in str(f.type)}
SPEC_DEFAULTS = {f.name: f.default for f in dataclasses.fields(JobSpec) if f.default is not dataclasses.MISSING}
ENV_COLUMNS = ["torch_version", "cuda_version", "cudnn_version", "driver_version", "memory_gib", "sm_count",
               "compute_capability", "sm_clock_max_mhz"]
SHAPE_COLUMNS = ["sweep", "batch", "heads", "kv_heads", "seq_len", "kv_len", "head_dim",
                 "dtype", "causal", "mask", "mode", "inputs"]


def load_runs(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One tidy frame from several run directories: every row with its `run` (the directory's
    name) and the versions its devices ran (`torch_version`, `cuda_version`, `cudnn_version`,
    `driver_version`, `memory_gib`, `sm_count`, `compute_capability`, `sm_clock_max_mhz`) joined
    from the manifest (a column an older manifest lacks is left empty)."""
    frames = []
    for run_dir in map(Path, run_dirs):
        frame = load_results(run_dir).assign(run=run_dir.name)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        devices = pd.DataFrame([d for s in manifest["sessions"] for d in s["devices"]])
        env = devices.drop_duplicates(["hostname", "device"], keep="last").reindex(
            columns=["hostname", "device", *ENV_COLUMNS])
        frames.append(frame.merge(env, on=["hostname", "device"], how="left"))
    return pd.concat(frames, ignore_index=True)


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """Every finished job of the run directory, in the order they finished."""
    frame = read_journal_table(Path(run_dir) / "results.jsonl").to_pandas().astype(DTYPES)
    frame = frame.fillna(SPEC_DEFAULTS)  # journals written before these point fields existed
    # ...and before `timer` existed, when GPU rows were timed with events and CPU rows with perf_counter
    legacy = frame["timer"].isna() & frame["median_ms"].notna()
    frame.loc[legacy, "timer"] = frame.loc[legacy, "gpu_uuid"].ne("").map({True: "cuda_events", False: "perf_counter"})
    frame["device_label"] = frame["hostname"] + " " + frame["device"] + " · " + frame["gpu_name"]
    frame["pct_of_peak"] = pct_of_peak(frame)
    return frame


def pct_of_peak(frame: pd.DataFrame) -> pd.Series:
    """Each row's TFLOPS as a % of its own device's measured matmul TFLOPS for the row's dtype
    (from that device's device_ceilings row); NaN where the device has no ceiling measured."""
    ceilings = frame[(frame["job"] == "device_ceilings") & (frame["status"] == "ok")]
    ceilings = ceilings.drop_duplicates("device_label", keep="last").set_index("device_label")
    pct = pd.Series(float("nan"), index=frame.index)
    for dtype in ("float16", "bfloat16", "float32"):
        peak = frame["device_label"].map(ceilings[f"ceiling_{dtype}_tflops"])
        rows = frame["dtype"] == dtype
        pct[rows] = 100 * frame.loc[rows, "tflops"] / peak[rows]
    return pct
