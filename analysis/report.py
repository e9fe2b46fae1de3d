"""The run's report: results.parquet for tools, report.md for people.

The first table answers the question the tool exists for: for each shape, how fast is each
backend on each device. A cell holds `median ms · TFLOPS`, or the status when the job did
not produce a time (oom, unsupported, ...), so a failure is visible where the number would be.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.frame import SHAPE_COLUMNS, load_results


def cell(row: pd.Series) -> str:
    if row["status"] != "ok":
        return row["status"]
    text = f"{row['median_ms']:.4g} ms · {row['tflops']:.3g} TFLOPS"
    if pd.notna(row["pct_of_peak"]):
        text += f" · {row['pct_of_peak']:.0f}% of peak"
    if row["backend"] == "default" and row.get("dispatched"):
        text += f" (→ {row['dispatched']})"
    return text


def shape_title(key: tuple) -> str:
    s = dict(zip(SHAPE_COLUMNS, key))
    kv = "" if (s["kv_heads"], s["kv_len"]) == (s["heads"], s["seq_len"]) else f", kv {s['kv_heads']}×{s['kv_len']}"
    return (f"{s['sweep']}: batch {s['batch']}, heads {s['heads']}, seq {s['seq_len']}, head_dim {s['head_dim']}"
            f"{kv}, {s['dtype']}, {mask_title(s)}, {s['mode']}, {s['inputs']} inputs")


def mask_title(s: dict) -> str:
    if not s["causal"]:
        return "non-causal"
    return "causal" if s["mask"] == "is_causal" else f"causal ({s['mask']} mask)"


def check_cell(row: pd.Series) -> str:
    if row["status"] != "ok":
        return row["status"]
    text = f"{'pass' if row['passed'] else '**FAIL**'} · {row['err_ratio']:.2g}× · {row['max_abs_err']:.2g}"
    if pd.notna(row["grad_err_ratio"]):
        text += f" · grads {row['grad_err_ratio']:.2g}×"
    return text + (f" · empty rows: {row['empty_rows']}" if row["empty_rows"] else "")


def point_tables(frame: pd.DataFrame, job: str, make_cell) -> list[str]:
    """Per point: device × backend, backends in the order the config named them."""
    rows = frame[frame["job"] == job].copy()
    if rows.empty:
        return ["None in this run.", ""]
    rows["cell"] = rows.apply(make_cell, axis=1)
    backends = list(dict.fromkeys(rows["backend"]))
    out = []
    for key, group in rows.groupby(SHAPE_COLUMNS, sort=False):
        table = group.pivot_table(index="device_label", columns="backend", values="cell", aggfunc="last")
        table = table.reindex(columns=[b for b in backends if b in table.columns]).fillna("—")
        out += [f"### {shape_title(key)}", "", markdown_table(table, "device"), ""]
    return out


def markdown_table(table: pd.DataFrame, index_name: str) -> str:
    header = [index_name, *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([str(idx), *map(str, row)]) + " |" for idx, row in table.iterrows()]
    return "\n".join(lines)


def ceiling_lines(frame: pd.DataFrame) -> list[str]:
    rows = frame[(frame["job"] == "device_ceilings") & (frame["status"] == "ok")]
    if rows.empty:
        return []
    lines = ["Measured ceilings (`device_ceilings` job):", "",
             "| device | fp16 matmul TFLOPS | bf16 matmul TFLOPS | fp32 matmul TFLOPS | copy GB/s (read+write) |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.device_label} | {r.ceiling_float16_tflops:.0f} | {r.ceiling_bfloat16_tflops:.0f} "
              f"| {r.ceiling_float32_tflops:.1f} | {r.ceiling_copy_gbs:.0f} |" for r in rows.itertuples()]
    return lines + [""]


def failure_lines(frame: pd.DataFrame) -> list[str]:
    """Each distinct reason once, with how many jobs it stopped (failed checks included)."""
    failed_check = (frame["status"] == "ok") & (frame["passed"] == False)  # noqa: E712 - nullable column
    bad = frame[(frame["status"] != "ok") | failed_check].copy()
    if bad.empty:
        return ["None."]
    bad.loc[failed_check, "status"] = "check failed"
    bad.loc[failed_check, "error"] = bad.loc[failed_check, "check"]
    reasons = bad.assign(reason=bad["error"].fillna("").str.split("\n").str[0].str[:300])
    counts = reasons.groupby(["status", "backend", "reason"], sort=False).size()
    return [f"- **{status}** `{backend}` ×{n}: {reason}" for (status, backend, reason), n in counts.items()]


def device_lines(run_dir: Path) -> list[str]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    session = manifest["sessions"][-1]
    lines = [f"Versions (driver): {', '.join(f'{k} {v}' for k, v in session['versions'].items())}", "",
             "| host | device | GPU | UUID | torch | CUDA | cuDNN | driver |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {d['hostname']} | {d['device']} | {d['gpu_name']} | {d['gpu_uuid'] or '—'} | {d['torch_version']} "
              f"| {d['cuda_version'] or '—'} | {d['cudnn_version'] or '—'} | {d['driver_version'] or '—'} |"
              for d in session["devices"]]
    return lines


def write_report(run_dir: str | Path) -> Path:
    """Write results.parquet and report.md from the run's journal; returns report.md's path."""
    run_dir = Path(run_dir)
    frame = load_results(run_dir)
    frame.drop(columns="device_label").to_parquet(run_dir / "results.parquet", index=False)
    counts = ", ".join(f"{s} {n}" for s, n in frame["status"].value_counts().items()) or "no jobs"
    lines = [f"# sdpa-bench report: {run_dir.name}", "", f"{len(frame)} jobs: {counts}.", "",
             "## Speed: device × backend, per shape", "",
             "Median time per call, achieved TFLOPS (FLOP count in the README) and, on GPUs, % of that device's "
             "measured dense-matmul TFLOPS for the dtype; a failed job shows its status.", "",
             *ceiling_lines(frame),
             *point_tables(frame, "sdpa_benchmark", cell),
             "## Correctness: device × backend, per point", "",
             "Each backend against softmax(QKᵀ/√d)V in float64: pass/FAIL, max abs error as a multiple of the "
             "same formula's error in the input dtype (the rule allows 2×, FlashAttention's), max abs error, "
             "and the gradients' worst multiple when checked. Failures name what is wrong under Failures.", "",
             *point_tables(frame, "causal_correctness", check_cell),
             "## Failures", "", *failure_lines(frame), "",
             "## Devices", "", *device_lines(run_dir), ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
