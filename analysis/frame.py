"""Results of a run as a pandas DataFrame: one row per job, the columns of `Result`."""
from __future__ import annotations

import dataclasses
import io
import json
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

from jobs.spec import JobSpec
from orchestrator.results import Result

COLUMNS = [f.name for f in dataclasses.fields(Result)]  # plus device_label and pct_of_peak
# Columns that may be None in a row get a nullable dtype, so a column stays numeric even when
# every job of a run failed (or ran on a CPU, which has no peak-memory counter).
DTYPES = {f.name: {"float | None": "float64", "int | None": "Int64", "str | None": "string",
                   "bool | None": "boolean"}[f.type]
          for f in dataclasses.fields(Result) if "None" in str(f.type)}
SPEC_DEFAULTS = {f.name: f.default for f in dataclasses.fields(JobSpec) if f.default is not dataclasses.MISSING}
ARROW = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
SCHEMA = pa.schema([(f.name, ARROW[f.type.split(" |")[0]]) for f in dataclasses.fields(Result)])
ENV_COLUMNS = ["torch_version", "cuda_version", "cudnn_version", "driver_version", "memory_gib", "sm_count",
               "compute_capability"]
SHAPE_COLUMNS = ["sweep", "batch", "heads", "kv_heads", "seq_len", "kv_len", "head_dim",
                 "dtype", "causal", "mask", "mode", "inputs"]


def load_runs(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One tidy frame from several run directories: every row with its `run` (the directory's
    name) and the versions its devices ran (`torch_version`, `cuda_version`, `cudnn_version`,
    `driver_version`, `memory_gib`, `sm_count`, `compute_capability`) joined from the manifest."""
    frames = []
    for run_dir in map(Path, run_dirs):
        frame = load_results(run_dir).assign(run=run_dir.name)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        devices = pd.DataFrame([d for s in manifest["sessions"] for d in s["devices"]])
        env = devices.drop_duplicates(["hostname", "device"], keep="last")[["hostname", "device", *ENV_COLUMNS]]
        frames.append(frame.merge(env, on=["hostname", "device"], how="left"))
    return pd.concat(frames, ignore_index=True)


def read_rows(path: Path) -> pd.DataFrame:
    """results.jsonl through pyarrow's JSON reader with the Result schema: types never depend on
    what the rows happen to hold, and 100k rows load in ~1 s (json.loads per line: ~3.5 s).
    A torn last line (a crash mid-write) is cut with a warning, as the driver's journal does."""
    data = path.read_bytes() if path.exists() else b""
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        warnings.warn(f"{path}: skipping a torn last line (the run was cut mid-write)")
    if not complete.strip():
        return pd.DataFrame(columns=COLUMNS)
    options = pajson.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
    try:
        return pajson.read_json(io.BytesIO(complete), parse_options=options).to_pandas()
    except pa.ArrowInvalid as err:
        raise ValueError(f"{path}: corrupt line in the middle of the journal: {err}") from None


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """Every finished job of the run directory, in the order they finished."""
    frame = read_rows(Path(run_dir) / "results.jsonl").reindex(columns=COLUMNS).astype(DTYPES)
    frame = frame.fillna(SPEC_DEFAULTS)  # journals written before these point fields existed
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
