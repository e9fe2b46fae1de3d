"""Runs as one pandas DataFrame: one row per job, the row schema's columns, typed.

`load_runs` is the one way in, for the report and for a notebook alike: any number of run
directories, from any machines and dates, each row with its `run` and the software its device
ran (from the manifest). A run directory written by an older version loads too: a field it
lacks is empty, a point field it lacks takes its default.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from base.journal import read_journal_table
from base.manifest import ManifestError, manifest_devices, read_manifest
from base.point import SPEC_DEFAULTS, implementation
from base.schema import COLUMN_TYPES

PANDAS_TYPES = {str: "string", int: "Int64", float: "float64", bool: "boolean"}
DTYPES = {name: PANDAS_TYPES[t] for name, t in COLUMN_TYPES.items()}
ENV_COLUMNS = ["torch_version", "cuda_version", "cudnn_version", "driver_version", "memory_gib", "sm_count",
               "compute_capability", "sm_clock_max_mhz", "power_limit_w"]


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """Every finished job of one run directory, in the order they finished (no manifest needed)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ManifestError(f"{run_dir}: no such run directory")
    frame = read_journal_table(run_dir / "results.jsonl").to_pandas()
    frame = frame.assign(**{c: pd.NA for c in DTYPES if c not in frame.columns})  # a new job's fields stay as read
    frame = frame.astype(DTYPES).fillna(SPEC_DEFAULTS)  # rows from before these point fields existed
    # ...and before `timer` existed, when GPU rows were timed with events and CPU rows with perf_counter
    legacy = frame["timer"].isna() & frame["median_ms"].notna()
    frame.loc[legacy, "timer"] = frame.loc[legacy, "gpu_uuid"].ne("").map({True: "cuda_events", False: "perf_counter"})
    # ...and before `protocol` existed, when every point was timed by the fixed protocol
    frame.loc[frame["protocol"].isna() & frame["median_ms"].notna(), "protocol"] = "fixed"
    frame["implementation"] = [implementation(b, f) for b, f in zip(frame["backend"], frame["flash_impl"])]
    frame["device_label"] = frame["hostname"] + " " + frame["device"] + " · " + frame["gpu_name"]
    return frame


def run_names(run_dirs: list[Path]) -> list[str]:
    """Each run's name: its directory's, with its parent's where two runs share a name."""
    names = [d.resolve().name for d in run_dirs]
    return [f"{d.resolve().parent.name}/{n}" if names.count(n) > 1 else n for d, n in zip(run_dirs, names)]


def device_env(manifest: dict) -> pd.DataFrame:
    """(hostname, device) -> the software and limits it ran with; a field an older manifest lacks is empty."""
    devices = pd.DataFrame(manifest_devices(manifest))
    if devices.empty:
        return pd.DataFrame(columns=["hostname", "device", *ENV_COLUMNS])
    return devices.reindex(columns=["hostname", "device", *ENV_COLUMNS])


def load_runs(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One tidy frame from several run directories: every row with its `run`, its `implementation`
    (backend and flash kernel), `pct_of_peak`, and its device's versions from the manifest."""
    run_dirs = [Path(d) for d in run_dirs]
    if len(set(d.resolve() for d in run_dirs)) < len(run_dirs):
        raise ManifestError("the same run directory is named twice")
    frames = []
    for run_dir, name in zip(run_dirs, run_names(run_dirs)):
        manifest = read_manifest(run_dir)
        frame = load_results(run_dir).assign(run=name)
        frames.append(frame.merge(device_env(manifest), on=["hostname", "device"], how="left"))
    frame = pd.concat(frames, ignore_index=True)
    frame["run"] = frame["run"].astype("string")
    frame["pct_of_peak"] = pct_of_peak(frame)
    return frame


def pct_of_peak(frame: pd.DataFrame) -> pd.Series:
    """Each row's TFLOPS as a % of its own device's measured matmul TFLOPS for the row's dtype
    (from that run's device_ceilings row); NaN where the device has no ceiling measured."""
    key = frame["run"] + "|" + frame["device_label"]
    ceilings = frame[(frame["job"] == "device_ceilings") & (frame["status"] == "ok")]
    ceilings = ceilings.assign(key=key).drop_duplicates("key", keep="last").set_index("key")
    pct = pd.Series(float("nan"), index=frame.index)
    for dtype in ("float16", "bfloat16", "float32"):
        peak = key.map(ceilings[f"ceiling_{dtype}_tflops"]).astype("float64")
        rows = (frame["dtype"] == dtype).fillna(False).to_numpy()
        pct[rows] = 100 * frame.loc[rows, "tflops"].astype("float64") / peak[rows]
    return pct
