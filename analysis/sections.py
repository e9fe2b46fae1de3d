"""The report's detail sections: every point's speed and correctness, failures, devices.

Speed tables have a row per GPU model and a column per implementation; a cell is the median over
the model's devices and runs (`analysis.cells`), with `n` and their range where more than one.
"""
from __future__ import annotations

import pandas as pd

from analysis.cells import POINT, speed_rows, status_cells
from analysis.document import Section, Table, num

CEILING_TEXT = {"TFLOPS": ("pct_of_peak", "of peak"), "GB/s": ("pct_of_bandwidth", "of read bandwidth")}


def point_title(key: tuple) -> str:
    p = dict(zip(POINT, key))
    return f"{p['sweep']}: {p['point']}"


def point_tables(long: pd.DataFrame, row: str, first_header: str) -> list[Section]:
    """One table per point (in first-seen order): a row per value of `row`, a column per
    implementation that ran there, each cell the `text` of its long-format row, "—" where none."""
    impls = list(dict.fromkeys(long["implementation"].tolist()))
    points: dict[tuple, dict[str, dict[str, str]]] = {}
    # as lists: iterating arrow-backed columns cell by cell took a second over a big report's rows
    for key, label, impl, text in zip(zip(*(long[c].tolist() for c in POINT)), long[row].tolist(),
                                      long["implementation"].tolist(), long["text"].tolist()):
        points.setdefault(key, {}).setdefault(label, {})[impl] = text
    out = []
    for key, rows in points.items():
        used = [i for i in impls if any(i in cells for cells in rows.values())]
        table = Table([first_header, *used],
                      [[label, *(cells.get(i, "—") for i in used)] for label, cells in rows.items()])
        out.append(Section(point_title(key), [table], level=3))
    return out


def speed_text(c: dict) -> str:
    """median ms · speed · % of the device's ceiling · × math · × default (→ what default ran) ·
    burst · n and range; bold if best, marked where above the ceiling."""
    text = f"{c['median_ms']:.4g} ms · {num(c['speed'])} {c['speed_unit']}"
    column, words = CEILING_TEXT[c["speed_unit"]]
    text += f" · {c[column]:.0f}% {words}" if pd.notna(c[column]) else ""
    for name in ("math", "default"):
        if pd.notna(c[f"{name}_ms"]) and c["implementation"] != name:
            text += f" · {c[f'{name}_ms'] / c['median_ms']:.3g}× {name}"
    if c["implementation"] == "default" and isinstance(c["dispatched"], str) and c["dispatched"]:
        text += f" (→ {c['dispatched']})"
    if pd.notna(c["burst_ms"]):
        text += f" · burst {num(c['burst_speed'])} (gap {c['burst_gap']:.2f}×)"
    text += f" (n={c['n']}, range {100 * c['range_rel']:.1f}%)" if c["n"] > 1 else ""
    if c["suspect"]:
        return (f"{text} · **suspect: above the device's measured ceiling** (L2-resident, a wrong byte count, or a "
                "ceiling kernel that reads slower than this one)")
    return f"**{text}**" if c["best"] else text


def with_references(cells: pd.DataFrame) -> pd.DataFrame:
    """Adds math_ms and default_ms (that implementation's time at the point, same GPU model) and
    `best` (the fastest trusted cell there)."""
    where = [*POINT, "gpu_name"]
    for name in ("math", "default"):
        ref = cells[cells["implementation"] == name].drop_duplicates(where).set_index(where)["median_ms"]
        cells = cells.join(ref.rename(f"{name}_ms"), on=where)
    trusted = cells["median_ms"].where(~cells["suspect"].fillna(False).astype(bool))
    fastest = trusted.groupby([cells[k] for k in where], dropna=False, sort=False).transform("min")
    return cells.assign(best=cells["median_ms"] == fastest)


SPEED_HEAD = ("Median time per call, sustained (the card held at its power cap by back-to-back calls); the speed it "
              "makes (TFLOPS: FLOPs as in docs/methods.md; GB/s: the bytes of docs/methods.md's byte model) and that "
              "as a % of the device's measured ceiling (matmul peak, read bandwidth); speed-up over math and "
              "default; the burst speed (the first calls after idle, as vendors' tables time them) and the gap, "
              "sustained time ÷ burst time; the fastest per GPU model in bold; a cell without a time shows its "
              "status; n and range where several devices or runs of one GPU model timed the point.")


def speed_sections(frame: pd.DataFrame, cells: pd.DataFrame) -> list[Section]:
    """A section per job that times (dense attention, decode, varlen prefill), a table per point;
    `cells` are `timed_cells(frame)`, which the report has made once already (seconds at 1M rows)."""
    statuses = status_cells(frame)
    if cells.empty and statuses.empty:
        return [Section("Speed per point", ["No benchmark job in these runs."])]
    cells = with_references(cells)
    keys = [*POINT, "gpu_name", "implementation"]
    timed = cells[keys].assign(text=[speed_text(c) for c in cells.to_dict("records")])
    # a cell shows its time if any device or run timed it, its statuses only where none did
    texts = pd.concat([timed, statuses], ignore_index=True).drop_duplicates(keys, keep="first")
    long = speed_rows(frame, keys).drop_duplicates().merge(texts, on=keys)
    sections = []
    for job, mine in long.groupby("job", sort=False):
        sections += [Section(f"Speed per point: {job}", [SPEED_HEAD]), *point_tables(mine, "gpu_name", "GPU model")]
    return sections


CHECK_COLUMNS = ["status", "passed", "err_ratio", "max_abs_err", "grad_err_ratio", "empty_rows"]


def check_text(r: dict) -> str:
    """pass/FAIL · error ratio · max abs error · gradients' ratio · what empty rows returned."""
    if r["status"] != "ok":
        return r["status"]
    text = f"{'pass' if r['passed'] else '**FAIL**'} · {r['err_ratio']:.2g}× · {r['max_abs_err']:.2g}"
    text += f" · grads {r['grad_err_ratio']:.2g}×" if pd.notna(r["grad_err_ratio"]) else ""
    return text + (f" · empty rows: {r['empty_rows']}" if pd.notna(r["empty_rows"]) and r["empty_rows"] else "")


def correctness_sections(frame: pd.DataFrame) -> list[Section]:
    keys = [*POINT, "run", "device_label", "implementation"]
    rows = frame.loc[frame["kind"] == "check", list(dict.fromkeys([*keys, *CHECK_COLUMNS]))]  # not every column
    if rows.empty:
        return [Section("Correctness per point", ["No correctness job in these runs."])]
    rows = rows.drop_duplicates(keys, keep="last")
    long = rows[[*POINT, "implementation"]].assign(
        where=rows["run"] + ": " + rows["device_label"],
        text=[check_text(r) for r in rows[CHECK_COLUMNS].to_dict("records")])
    head = Section("Correctness per point", [
        "Each implementation against softmax(QKᵀ/√d)V in float64: pass/FAIL, max abs error as a multiple of the same "
        "formula's error in the input dtype (the rule allows 2×), max abs error, and the gradients' worst multiple "
        "when checked. Rows: device of each run."])
    return [head, *point_tables(long, "where", "device")]


def failure_section(frame: pd.DataFrame) -> Section:
    """Counts per device × implementation, then each distinct reason once with how many jobs it stopped."""
    failed_check = (frame["status"] == "ok") & (frame["passed"] == False)  # noqa: E712 - nullable column
    bad = frame[(frame["status"] != "ok") | failed_check.fillna(False)].copy()
    if bad.empty:
        return Section("Failures", ["None."])
    failed_check = failed_check.reindex(bad.index).fillna(False).astype(bool)
    bad.loc[failed_check, "status"] = "check failed"
    bad.loc[failed_check, "error"] = bad.loc[failed_check, "check"]
    counts = bad.groupby(["device_label", "implementation", "status"], sort=False).size()
    impls = list(dict.fromkeys(bad["implementation"]))
    table = Table(["device", *impls], [
        [label, *(", ".join(f"{s} {n}" for (_, i, s), n in mine.items() if i == impl) for impl in impls)]
        for label, mine in counts.groupby(level="device_label", sort=False)])
    reasons = bad.assign(reason=bad["error"].fillna("").str.split("\n").str[0].str[:300])
    grouped = reasons.groupby(["status", "implementation", "reason"], sort=False).size()
    return Section("Failures", [table, [f"**{s}** `{i}` ×{n}: {r}" for (s, i, r), n in grouped.items()]])


def device_section(manifests: dict[str, dict]) -> Section:
    rows = []
    for run, manifest in manifests.items():
        session = manifest["sessions"][-1] if manifest["sessions"] else {"devices": []}
        for d in session.get("devices", []):
            rows.append([run, d.get("hostname", ""), d.get("device", ""), d.get("gpu_name", ""),
                         d.get("gpu_uuid") or "—",
                         str(d.get("sm_count") or "—"), str(d.get("sm_clock_max_mhz") or "—"),
                         f"{d['power_limit_w']:.0f} W" if d.get("power_limit_w") else "—", d.get("torch_version", ""),
                         d.get("cuda_version") or "—", d.get("cudnn_version") or "—", d.get("driver_version") or "—",
                         d.get("packages") or "—"])
    return Section("Devices", [Table(["run", "host", "device", "GPU", "UUID", "SMs", "max SM MHz", "power limit",
                                      "torch", "CUDA", "cuDNN", "driver", "packages"], rows)])
