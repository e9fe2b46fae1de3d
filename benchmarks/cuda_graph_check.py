"""Does the CUDA-graph timer (timing.cuda_graph) change what sdpa-bench measures? (issue 3; GPU)

The same points run twice through sdpa-bench: CUDA-graph replay, then CUDA events (an earlier
call ran events twice: launch-bound points repeated only within ±20-60%, see docs/results). Short kernels (batch 1, 8 heads, seq 128/512) are where
the host's launch overhead can leave the GPU idle inside the events, so graphs should read the
same or lower there; long ones (the tutorial shape) must agree, or the graph timer is wrong.

    python3 benchmarks/cuda_graph_check.py OUT_DIR
Prints a table; writes OUT_DIR/cuda_graph_check.json.
"""
from __future__ import annotations

import sys
from pathlib import Path

from timer_check import run_through_sdpa_bench

SHORT = {"batch": [1], "heads": [8], "seq_len": [128, 512], "head_dim": [64], "dtype": ["bfloat16"],
         "mode": ["fwd", "bwd", "fwd_bwd"], "backend": ["math", "flash", "efficient", "cudnn"]}
LONG = {"batch": [32], "heads": [32], "seq_len": [2048], "head_dim": [224], "dtype": ["float16"],
        "inputs": ["rand"], "backend": ["default", "flash", "cudnn"]}
POINT = ["sweep", "backend", "seq_len", "mode"]


def config(cuda_graph: bool) -> dict:
    return {"run": {"measure_ceilings": False}, "timing": {"cuda_graph": cuda_graph},
            "sweeps": [{"name": name, "device_type": "cuda", "grid": grid} for name, grid in (("short", SHORT), ("long", LONG))]}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    runs = {name: run_through_sdpa_bench(config(graph), out / name)[0].set_index(POINT)
            for name, graph in (("graph", True), ("events", False))}
    e, g = runs["events"], runs["graph"]
    table = e[["median_ms", "n_reps", "stop_reason"]].rename(columns={"median_ms": "events_ms", "n_reps": "events_reps"}).assign(
        graph_ms=g.median_ms, graph_reps=g.n_reps, graph_status=g.status, graph_attempt=g.attempt,
        graph_error=g.error.str.split("\n").str[0].str[:160], graph_ci=g.ci_rel)
    table["graph_pct"] = 100 * (table.graph_ms / table.events_ms - 1)
    (out / "cuda_graph_check.json").write_text(table.reset_index().to_json(orient="records", indent=1))
    print(table.drop(columns=["graph_error"]).to_string(float_format=lambda x: f"{x:.4g}"))
    for point, row in table[table.graph_status != "ok"].iterrows():
        print(f"not ok with cuda_graph: {point}: {row.graph_status}: {row.graph_error}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
