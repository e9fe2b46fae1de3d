"""How long does one report of many runs take? RUNS synthetic run directories of ROWS result rows
each (three GPU models, eight devices each, shapes, backends, failures, correctness rows), as if
from different machines and dates -> one report: parquet, CSV, report.md, the plots, report.html.
No manifest field beyond what older versions wrote (no power limit, no SM count), so it also
shows that such runs still report.

    python benchmarks/report_scale.py [ROWS] [RUNS]      # default 100000 rows, 10 runs
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.report import write_report

MODELS = ["NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "NVIDIA L40S"]
BACKENDS = ["default", "math", "flash", "efficient", "cudnn", "fa4", "flex"]


def synthetic_row(i: int, run: int, rng: np.random.Generator) -> dict:
    model = (i + run) % len(MODELS)
    device, backend = f"cuda:{(i // len(MODELS)) % 8}", BACKENDS[(i // 24) % len(BACKENDS)]
    seq = 2 ** (9 + (i // 168) % 6)
    status = "oom" if backend == "math" and seq >= 8192 else "ok"
    row = dict(job_id=f"{run:02d}{i:014x}", job="sdpa_benchmark" if i % 10 else "causal_correctness",
               sweep=f"s{(i // 1008) % 40}", status=status, attempt=1, node=f"n{model}", hostname=f"node{model}",
               error="CUDA out of memory. Tried to allocate 32.00 GiB" if status == "oom" else "",
               device=device, gpu_name=MODELS[model], gpu_uuid=f"u{model}{device}", backend=backend, dtype="bfloat16",
               batch=16384 // seq, heads=16, kv_heads=16, seq_len=seq, kv_len=seq, head_dim=128, causal=bool(i % 2),
               mode="fwd", inputs="randn", seed=0, mask="is_causal", candidate="", fault="none")
    median = float(rng.uniform(0.1, 50))
    if status == "ok" and row["job"] == "sdpa_benchmark":
        row.update(median_ms=median, iqr_ms=median * 0.01, min_ms=median * 0.98, n_reps=20, ci_rel=0.005,
                   stop_reason="converged", timer="cuda_events", flops=1e12, tflops=1e12 / (median * 1e-3) / 1e12)
    elif status == "ok":
        ratio = float(rng.uniform(0.3, 1.5))
        row.update(passed=True, check="pass", max_abs_err=1e-3 * ratio, math_max_abs_err=1e-3, err_ratio=ratio)
    return row


def write_run(root: Path, run: int, rows: int) -> Path:
    run_dir = root / f"run{run}"
    run_dir.mkdir()
    rng = np.random.default_rng(run)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(synthetic_row(i, run, rng)) + "\n" for i in range(rows)))
    devices = [{"hostname": f"node{m}", "device": f"cuda:{d}", "node": f"n{m}", "gpu_name": name,
                "gpu_uuid": f"u{m}cuda:{d}", "torch_version": "2.11.0", "cuda_version": "13.0",
                "cudnn_version": "91900", "driver_version": "580"} for m, name in enumerate(MODELS) for d in range(8)]
    (run_dir / "manifest.json").write_text(json.dumps({"sessions": [{
        "started_at": f"2026-11-{10 + run:02d}T00:00:00+00:00", "devices": devices,
        "versions": {"python": "3.12", "ray": "2.60.0", "torch": "2.11.0", "cuda": "13.0", "pandas": "3"}}]}))
    return run_dir


def main(rows: int, runs: int) -> None:
    root = Path(tempfile.mkdtemp())
    run_dirs = [write_run(root, r, rows) for r in range(runs)]
    t0 = time.perf_counter()
    report = write_report(run_dirs, root / "report" if runs > 1 else None)
    seconds = time.perf_counter() - t0
    out = report.parent
    plots = len(list((out / "plots").glob("*.png")))
    print(f"{runs} run(s) x {rows} rows = {runs * rows} rows -> one report (parquet, csv, report.md, {plots} plots, "
          f"report.html) in {seconds:.2f} s; report.md {report.stat().st_size // 1024} KiB, "
          f"report.html {(out / 'report.html').stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
