"""How long does the full report take for a big run? 100,000 synthetic result rows (many
devices, GPU models, shapes and backends, with failures and correctness rows) -> parquet, CSV,
report.md, the plots and report.html, timed end to end.

    python benchmarks/report_scale.py [ROWS]
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
BACKENDS = ["default", "math", "flash", "efficient", "cudnn"]


def synthetic_rows(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        model = i % len(MODELS)
        device = f"cuda:{(i // len(MODELS)) % 8}"
        host = f"node{model}"
        backend = BACKENDS[(i // 24) % len(BACKENDS)]
        seq = 2 ** (9 + (i // 120) % 6)
        status = "oom" if backend == "math" and seq >= 8192 else "ok"
        median = float(rng.uniform(0.1, 50))
        row = dict(job_id=f"{i:016x}", job="sdpa_benchmark" if i % 10 else "causal_correctness", sweep=f"s{(i // 720) % 40}",
                   status=status, error="CUDA out of memory. Tried to allocate 32.00 GiB" if status == "oom" else "",
                   attempt=1, node=f"n{model}", hostname=host, device=device, gpu_name=MODELS[model], gpu_uuid=f"u{model}{device}",
                   backend=backend, dtype="bfloat16", batch=16384 // seq, heads=16, kv_heads=16, seq_len=seq, kv_len=seq,
                   head_dim=128, causal=bool(i % 2), mode="fwd", inputs="randn", seed=0, mask="is_causal", candidate="",
                   fault="none")
        if status == "ok" and row["job"] == "sdpa_benchmark":
            row.update(median_ms=median, iqr_ms=median * 0.01, min_ms=median * 0.98, n_reps=20, ci_rel=0.005,
                       stop_reason="converged", flops=1e12, tflops=1e12 / (median * 1e-3) / 1e12)
        elif status == "ok":
            ratio = float(rng.uniform(0.3, 1.5))
            row.update(passed=True, check="pass", max_abs_err=1e-3 * ratio, math_max_abs_err=1e-3, err_ratio=ratio)
        rows.append(row)
    return rows


def main(n: int) -> None:
    run_dir = Path(tempfile.mkdtemp()) / "big"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in synthetic_rows(n)))
    devices = [{"hostname": f"node{m}", "device": f"cuda:{d}", "node": f"n{m}", "gpu_name": name, "gpu_uuid": f"u{m}cuda:{d}",
                "torch_version": "2.11.0", "cuda_version": "13.0", "cudnn_version": "91900", "driver_version": "580"}
               for m, name in enumerate(MODELS) for d in range(8)]
    (run_dir / "manifest.json").write_text(json.dumps({"sessions": [{
        "started_at": "2026-11-25T00:00:00+00:00", "devices": devices,
        "versions": {"python": "3.12", "ray": "2.60.0", "torch": "2.11.0", "cuda": "13.0", "pandas": "3"}}]}))
    t0 = time.perf_counter()
    write_report(run_dir)
    seconds = time.perf_counter() - t0
    sizes = {p.name: p.stat().st_size for p in run_dir.iterdir() if p.is_file()}
    print(f"{n} rows -> full report (parquet, csv, report.md, {len(list((run_dir / 'plots').glob('*.png')))} plots, "
          f"report.html) in {seconds:.2f} s; report.md {sizes['report.md'] // 1024} KiB, report.html {sizes['report.html'] // 1024} KiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
