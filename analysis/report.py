"""The run's report: results.parquet for tools, report.md for people.

The first table answers the question the tool exists for: for each shape, how fast is each
backend on each device. A cell holds `median ms · TFLOPS`, or the status when the job did
not produce a time (oom, unsupported, ...), so a failure is visible where the number would be.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analysis.frame import SHAPE_COLUMNS, load_results
from analysis.html import write_html
from analysis.plots import make_plots
from analysis.sections import cross_device_lines, failure_count_lines, summary_lines


def text_of(value) -> str:
    """A string column's value, "" where it is missing (pandas' NA has no truth value)."""
    return "" if pd.isna(value) else str(value)


def speed_cells(rows: pd.DataFrame) -> list[str]:
    """median ms · TFLOPS · % of peak · speed-up over math and over default; the device's fastest
    backend in bold. One pass over plain columns: row-wise DataFrame.apply is 20x slower at 100k rows."""
    out = []
    for status, ms, tflops, pct, vs_math, vs_default, backend, dispatched, best in zip(
            rows["status"], rows["median_ms"], rows["tflops"], rows["pct_of_peak"], rows["vs_math"],
            rows["vs_default"], rows["backend"], rows["dispatched"], rows["best"]):
        if status != "ok":
            out.append(status)
            continue
        text = f"{ms:.4g} ms · {tflops:.3g} TFLOPS"
        text += f" · {pct:.0f}% of peak" if pd.notna(pct) else ""
        text += f" · {vs_math:.3g}× math" if pd.notna(vs_math) and backend != "math" else ""
        text += f" · {vs_default:.3g}× default" if pd.notna(vs_default) and backend != "default" else ""
        text += f" (→ {dispatched})" if backend == "default" and text_of(dispatched) else ""
        out.append(f"**{text}**" if best else text)
    return out


def check_cells(rows: pd.DataFrame) -> list[str]:
    """pass/FAIL · error ratio · max abs error · gradients' ratio · what empty rows returned."""
    out = []
    for status, passed, ratio, err, grads, empty in zip(rows["status"], rows["passed"], rows["err_ratio"],
                                                        rows["max_abs_err"], rows["grad_err_ratio"], rows["empty_rows"]):
        if status != "ok":
            out.append(status)
            continue
        text = f"{'pass' if passed else '**FAIL**'} · {ratio:.2g}× · {err:.2g}"
        text += f" · grads {grads:.2g}×" if pd.notna(grads) else ""
        out.append(text + (f" · empty rows: {empty}" if text_of(empty) else ""))
    return out


def with_speedups(bench: pd.DataFrame) -> pd.DataFrame:
    """Adds, per point and device: `vs_math` and `vs_default` (that backend's time / this time)
    and `best` (the fastest there)."""
    point = SHAPE_COLUMNS + ["device_label"]
    ok = bench["status"] == "ok"
    for name in ("math", "default"):
        ref = bench[ok & (bench["backend"] == name)].drop_duplicates(point, keep="last").set_index(point)["median_ms"]
        bench = bench.join(ref.rename(f"{name}_ms"), on=point)
        bench[f"vs_{name}"] = bench[f"{name}_ms"] / bench["median_ms"]
    fastest = bench["median_ms"].where(ok).groupby([bench[c] for c in point], dropna=False).transform("min")
    return bench.assign(best=ok & (bench["median_ms"] == fastest))


def shape_title(key: tuple) -> str:
    s = dict(zip(SHAPE_COLUMNS, key))
    kv = "" if (s["kv_heads"], s["kv_len"]) == (s["heads"], s["seq_len"]) else f", kv {s['kv_heads']}×{s['kv_len']}"
    return (f"{s['sweep']}: batch {s['batch']}, heads {s['heads']}, seq {s['seq_len']}, head_dim {s['head_dim']}"
            f"{kv}, {s['dtype']}, {mask_title(s)}, {s['mode']}, {s['inputs']} inputs")


def mask_title(s: dict) -> str:
    if not s["causal"]:
        return "non-causal"
    return "causal" if s["mask"] == "is_causal" else f"causal ({s['mask']} mask)"


def point_tables(frame: pd.DataFrame, job: str, make_cells) -> list[str]:
    """Per point: device × backend, backends in the order the config named them. One pivot for
    the whole run, sliced per point (a pivot per point is 10x slower at 100k rows)."""
    rows = frame[frame["job"] == job]
    if rows.empty:
        return ["None in this run.", ""]
    if job == "sdpa_benchmark":
        rows = with_speedups(rows)
    rows = rows.assign(cell=make_cells(rows)).drop_duplicates(SHAPE_COLUMNS + ["device_label", "backend"], keep="last")
    backends = list(dict.fromkeys(rows["backend"]))
    wide = rows.set_index(SHAPE_COLUMNS + ["device_label", "backend"])["cell"].unstack("backend")
    wide = wide.reindex(columns=backends).fillna("—")
    cells, devices = wide.to_numpy(), wide.index.get_level_values("device_label")
    by_point: dict[tuple, list[int]] = {}
    for i, key in enumerate(wide.index.droplevel("device_label")):
        by_point.setdefault(key, []).append(i)
    out = []
    for key, idx in by_point.items():
        block = cells[idx]
        used = [j for j in range(block.shape[1]) if (block[:, j] != "—").any()]  # backends this point ran
        table = pd.DataFrame(block[:, used], index=devices[idx], columns=[backends[j] for j in used])
        out += [f"### {shape_title(key)}", "", markdown_table(table, "device"), ""]
    return out


def markdown_table(table: pd.DataFrame, index_name: str) -> str:
    header = [index_name, *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([str(idx), *map(str, row)]) + " |" for idx, row in zip(table.index, table.values)]
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


def device_lines(manifest: dict) -> list[str]:
    session = manifest["sessions"][-1]
    lines = [f"Versions (driver): {', '.join(f'{k} {v}' for k, v in session['versions'].items())}", "",
             "| host | device | GPU | UUID | SMs | max SM MHz | torch | CUDA | cuDNN | driver |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {d['hostname']} | {d['device']} | {d['gpu_name']} | {d['gpu_uuid'] or '—'} | {d['sm_count'] or '—'} "
              f"| {d.get('sm_clock_max_mhz') or '—'} | {d['torch_version']} "
              f"| {d['cuda_version'] or '—'} | {d['cudnn_version'] or '—'} | {d['driver_version'] or '—'} |"
              for d in session["devices"]]
    return lines


def write_report(run_dir: str | Path) -> Path:
    """Write results.parquet, results.csv, report.md, the plots and report.html from the run's
    journal; returns report.md's path."""
    run_dir = Path(run_dir)
    frame = load_results(run_dir)
    table = pa.Table.from_pandas(frame.drop(columns="device_label"), preserve_index=False)
    pq.write_table(table, run_dir / "results.parquet")
    pacsv.write_csv(table, run_dir / "results.csv")  # pandas' to_csv: 3.5 s at 100k rows, this: 0.3 s
    manifest = json.loads((run_dir / "manifest.json").read_text())
    text = report_markdown(frame, manifest, run_dir.name)
    figures = make_plots(frame, run_dir / "plots")
    links = [f"![{title}](plots/{png.name})" for title, png in figures]
    path = run_dir / "report.md"
    path.write_text(text + "\n## Plots\n\n" + "\n\n".join(links) + "\n")
    write_html(run_dir / "report.html", text, figures, f"sdpa-bench report: {run_dir.name}")
    return path


def report_markdown(frame: pd.DataFrame, manifest: dict, name: str) -> str:
    counts = ", ".join(f"{s} {n}" for s, n in frame["status"].value_counts().items()) or "no jobs"
    lines = [f"# sdpa-bench report: {name}", "", f"{len(frame)} jobs: {counts}.", "",
             "## Summary", "", *summary_lines(frame, manifest),
             "## Speed: device × backend, per shape", "",
             "Median time per call, achieved TFLOPS (FLOP count in the README) and, on GPUs, % of that device's "
             "measured dense-matmul TFLOPS for the dtype; a failed job shows its status.", "",
             *ceiling_lines(frame),
             *point_tables(frame, "sdpa_benchmark", speed_cells),
             "## Correctness: device × backend, per point", "",
             "Each backend against softmax(QKᵀ/√d)V in float64: pass/FAIL, max abs error as a multiple of the "
             "same formula's error in the input dtype (the rule allows 2×, FlashAttention's), max abs error, "
             "and the gradients' worst multiple when checked. Failures name what is wrong under Failures.", "",
             *point_tables(frame, "causal_correctness", check_cells),
             "## Across GPU models", "", *cross_device_lines(frame),
             "## Failures", "", *failure_count_lines(frame), *failure_lines(frame), "",
             "## Devices", "", *device_lines(manifest), ""]
    return "\n".join(lines)
