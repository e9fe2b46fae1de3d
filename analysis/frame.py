"""Results of a run as a pandas DataFrame: one row per job, the columns of `Result`."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from orchestrator.results import Result, read_journal

COLUMNS = [f.name for f in dataclasses.fields(Result)]
# Columns that may be None in a row get a nullable dtype, so a column stays numeric even when
# every job of a run failed (or ran on a CPU, which has no peak-memory counter).
DTYPES = {f.name: {"float | None": "float64", "int | None": "Int64", "str | None": "string"}[f.type]
          for f in dataclasses.fields(Result) if "None" in str(f.type)}
SHAPE_COLUMNS = ["sweep", "batch", "heads", "kv_heads", "seq_len", "kv_len", "head_dim",
                 "dtype", "causal", "mode", "inputs"]


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """Every finished job of the run directory, in the order they finished."""
    rows = read_journal(Path(run_dir) / "results.jsonl")
    frame = pd.DataFrame(rows, columns=COLUMNS).astype(DTYPES)
    frame["device_label"] = frame["hostname"] + " " + frame["device"] + " · " + frame["gpu_name"]
    return frame
