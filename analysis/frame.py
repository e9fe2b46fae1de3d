"""Runs as one pandas DataFrame: one row per job, typed by each run's schema.json.

`load_runs` is the one way in, for the report and for a notebook alike: any number of run
directories, from any machines and dates, each row with its `run` and the software its device ran
(from the manifest). Beside the row's own columns, every row gets what its job's report hints say
(base/schema.py): `kind` (speed, check, ceilings, none), `speed` and `speed_unit` (the metric its
job ranks by: TFLOPS or GB/s), `x` (the value of the parameter its family's curve runs along, named
by `x_name`) and `by` (the value of the parameter its headline also ranks within). A run written
before schema.json existed loads too (base/format1.py): a field it lacks is empty, a point field
it lacks takes the meaning it had.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.datasheets import datasheet_gbs
from base import format1
from base.rundir import RunDir, RunDirError
from base.schema import column_types, job_hints

PANDAS_TYPES = {str: "string", int: "Int64", float: "float64", bool: "boolean"}
ENV_COLUMNS = ["torch_version", "cuda_version", "cudnn_version", "driver_version", "memory_gib", "sm_count",
               "compute_capability", "sm_clock_max_mhz", "power_limit_w", "packages"]
UNITS = {"tflops": "TFLOPS", "gbs": "GB/s"}
# columns the report reads whichever jobs a run had: empty where none of its jobs writes them
READ_BY_REPORT = {"median_ms": "float64", "iqr_ms": "float64", "timer": "string", "protocol": "string",
                  "dispatched": "string", "burst_ms": "float64", "burst_clock_mhz": "float64",
                  "sm_clock_mhz": "float64", "passed": "boolean", "check": "string", "err_ratio": "float64",
                  "max_abs_err": "float64", "grad_err_ratio": "float64", "empty_rows": "string", "dtype": "string"}


def load_results(run_dir: str | Path | RunDir) -> pd.DataFrame:
    """Every finished job of one run directory, in the order they finished (no manifest needed)."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    schema = run_dir.schema()
    types = column_types(schema)
    frame = run_dir.rows().to_pandas()
    frame = frame.astype({c: PANDAS_TYPES[t] for c, t in types.items()})
    missing = [c for c in READ_BY_REPORT if c not in frame.columns]
    frame = frame.assign(**{c: pd.Series(None, index=frame.index, dtype=READ_BY_REPORT[c]) for c in missing})
    if schema["format"] == 1:
        frame = format1_names(frame)
    frame["device_label"] = frame["hostname"] + " " + frame["device"] + " · " + frame["gpu_name"]
    return with_hints(frame, schema)


def format1_names(frame: pd.DataFrame) -> pd.DataFrame:
    """What a format 1 row meant: point fields it lacks at their old default, the timer and protocol
    GPU rows had before those columns existed, and its point, family and implementation names."""
    frame = frame.fillna(format1.ROW_DEFAULTS)
    legacy = frame["timer"].isna() & frame["median_ms"].notna()
    frame.loc[legacy, "timer"] = frame.loc[legacy, "gpu_uuid"].ne("").map({True: "cuda_events", False: "perf_counter"})
    frame.loc[frame["protocol"].isna() & frame["median_ms"].notna(), "protocol"] = "fixed"
    frame.loc[frame["settle"] == "fixed", "settle"] = "by_time"  # the fixed protocol's warmup: what it is called now
    # the names of each distinct point, once: per row, a million rows took half a minute
    codes = frame.groupby([*format1.PARAMS], dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    points = frame[[*format1.PARAMS]].iloc[first].to_dict("records")
    names = {"point": [format1.point_label(r) for r in points], "family": [format1.family_label(r) for r in points],
             "implementation": [format1.implementation(r["backend"], r["flash_impl"]) for r in points]}
    for column, values in names.items():  # arrow's take: pandas would make a million Python strings into arrow's
        frame[column] = pd.arrays.ArrowStringArray(pa.array(values, pa.large_string()).take(codes))
    return frame


def with_hints(frame: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Each row's kind, its speed in its job's unit, and its curve's x, from its job's report hints."""
    hints = job_hints(schema)
    kind = frame["job"].map({j: h.kind for j, h in hints.items()}).fillna("none")
    speed = pd.Series(np.nan, index=frame.index)
    unit = pd.Series(pd.NA, index=frame.index, dtype="string")
    x, by = pd.Series(np.nan, index=frame.index), pd.Series(np.nan, index=frame.index)
    x_name, by_name = (pd.Series(pd.NA, index=frame.index, dtype="string") for _ in range(2))
    for job, h in hints.items():
        mine = (frame["job"] == job).fillna(False).to_numpy()
        if h.kind == "speed" and mine.any():
            speed[mine] = frame.loc[mine, h.speed].astype("float64")
            unit[mine], x_name[mine], by_name[mine] = UNITS[h.speed], h.x, h.by or pd.NA
            x[mine] = frame.loc[mine, h.x].astype("float64")
            by[mine] = frame.loc[mine, h.by].astype("float64") if h.by else np.nan
    return frame.assign(kind=kind.astype("string"), speed=speed, speed_unit=unit, x=x, x_name=x_name, by=by,
                        by_name=by_name)


def run_names(run_dirs: list[Path]) -> list[str]:
    """Each run's name: its directory's, with its parent's where two runs share a name."""
    names = [d.resolve().name for d in run_dirs]
    return [f"{d.resolve().parent.name}/{n}" if names.count(n) > 1 else n for d, n in zip(run_dirs, names)]


def device_env(run_dir: RunDir) -> pd.DataFrame:
    """(hostname, device) -> the software and limits it ran with; a field an older manifest lacks is empty."""
    devices = pd.DataFrame(run_dir.devices())
    if devices.empty:
        return pd.DataFrame(columns=["hostname", "device", *ENV_COLUMNS])
    return devices.reindex(columns=["hostname", "device", *ENV_COLUMNS])


def load_run(run_dir: RunDir, name: str) -> pd.DataFrame:
    """One run's rows, each with the run's name and its device's software (manifest.json)."""
    run_dir.manifest()
    frame = load_results(run_dir).assign(run=name)
    return frame.merge(device_env(run_dir), on=["hostname", "device"], how="left")


def load_runs(run_dirs: list[str | Path | RunDir]) -> pd.DataFrame:
    """One tidy frame from several run directories: every row with its `run`, its device's versions
    from the manifest, and its speed against its device's measured ceilings (`pct_of_peak` for
    TFLOPS, `pct_of_bandwidth` for GB/s) and against the datasheet (`pct_of_datasheet`)."""
    run_dirs = [d if isinstance(d, RunDir) else RunDir(d) for d in run_dirs]
    if len(set(d.path.resolve() for d in run_dirs)) < len(run_dirs):
        raise RunDirError("the same run directory is named twice")
    # two runs at a time: one's Python-bound pandas steps run while arrow parses the other's journal;
    # map gives the frames in order, and the first run in order that fails raises, as a loop would
    with ThreadPoolExecutor(2) as pool:
        frames = list(pool.map(load_run, run_dirs, run_names([d.path for d in run_dirs])))
    frame = pd.concat(frames, ignore_index=True)
    frame["run"] = frame["run"].astype("string")
    return against_ceilings(frame)


def against_ceilings(frame: pd.DataFrame) -> pd.DataFrame:
    """Each speed row against its own device's measured ceiling (that run's device_ceilings row):
    TFLOPS against the matmul peak of its dtype, GB/s against the read bandwidth; NaN where the
    device has no ceiling measured."""
    # a number per device of a run (run and device label are never empty): a string per row took a second
    key = frame.groupby(["run", "device_label"], sort=False).ngroup()
    measured = ((frame["kind"] == "ceilings") & (frame["status"] == "ok")).fillna(False).to_numpy()
    ceilings = frame.loc[measured, [c for c in frame.columns if c.startswith("ceiling_")]]  # not every column
    ceilings = ceilings.assign(key=key[measured]).drop_duplicates("key", keep="last").set_index("key")
    peak = pd.Series(np.nan, index=frame.index)
    for column in [c for c in ceilings.columns if c.startswith("ceiling_") and c.endswith("_tflops")]:
        dtype = column.removeprefix("ceiling_").removesuffix("_tflops")
        rows = ((frame["dtype"] == dtype) & (frame["speed_unit"] == "TFLOPS")).fillna(False).to_numpy()
        peak[rows] = key[rows].map(ceilings[column]).astype("float64")
    tflops = (frame["speed_unit"] == "TFLOPS").fillna(False).to_numpy()
    gbs = (frame["speed_unit"] == "GB/s").fillna(False).to_numpy()
    read = key.map(ceilings["ceiling_read_gbs"]).astype("float64") if "ceiling_read_gbs" in ceilings else np.nan
    sheet = per_value(frame["gpu_name"], datasheet_gbs)
    return frame.assign(pct_of_peak=np.where(tflops, 100 * frame["speed"] / peak, np.nan),
                        pct_of_bandwidth=np.where(gbs, 100 * frame["speed"] / read, np.nan),
                        pct_of_datasheet=np.where(gbs, 100 * frame["speed"] / sheet, np.nan))


def per_value(values: pd.Series, of) -> np.ndarray:
    """`of` each value as float64, called once per distinct value (once per row: a million calls took a
    second); `of` a missing value is NaN."""
    codes, uniques = pd.factorize(values)
    return np.append(np.array([of(u) for u in uniques], dtype="float64"), np.nan)[codes]
