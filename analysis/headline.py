"""The report's first screen: which implementation is fastest on each GPU model, how the models
compare, and what might confound that comparison (different software, power limits, protocols).

Every number comes from `analysis.cells`: one cell per (point, GPU model, implementation), the
median over that model's devices and runs. Speeds are sustained (the card as back-to-back calls
hold it); the burst figure of the same cell stands beside it. A cell above its device's measured
ceiling is suspect and never wins.
"""
from __future__ import annotations

import pandas as pd

from analysis.cells import POINT, geomean, per_model
from analysis.document import Section, Table, num

SOFTWARE = ["torch_version", "cuda_version", "cudnn_version", "driver_version", "packages"]
MAX_LISTED = 10


def shared_points(group: pd.DataFrame) -> pd.DataFrame:
    """The cells at the points where the most implementations ran: a family's implementations are
    ranked over points they share, never over one that only some of them ran (a math-only sweep)."""
    per_point = group.groupby(POINT, sort=False)["implementation"].transform("nunique")
    return group[per_point == per_point.max()]


def rank(group: pd.DataFrame) -> dict | None:
    """The fastest implementation over the shared points of `group` (one GPU model, one family):
    the highest median speed among those that ran every one of them."""
    group = group[~group["suspect"].fillna(False)]
    if group.empty:
        return None
    shared = shared_points(group)
    points = len(shared[POINT].drop_duplicates())
    scores = shared.groupby("implementation", sort=False).agg(
        covered=("speed", "size"), speed=("speed", "median"), burst=("burst_speed", "median"))
    scores = scores[(scores["covered"] == points) & scores["speed"].notna()]  # a time without its FLOPs: unranked
    if scores.empty:
        return None
    best = scores["speed"].idxmax()
    return {"implementation": best, "speed": scores.loc[best, "speed"], "burst": scores.loc[best, "burst"],
            "unit": group["speed_unit"].iloc[0], "points": points}


def fastest_per_family(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (GPU model, shape family): the fastest implementation, its sustained and burst speed, and
    over how many shared points."""
    rows = []
    for (model, family), group in cells.groupby(["gpu_name", "family"], sort=False, dropna=False):
        best = rank(group)
        if best is not None:
            rows.append({"gpu_name": model, "family": family, **best})
    return pd.DataFrame(rows, columns=["gpu_name", "family", "implementation", "speed", "burst", "unit", "points"])


def fastest_by(cells: pd.DataFrame, best: pd.DataFrame) -> list[str]:
    """Where a family whose job names a `by` parameter (decode: batch) has another winner at some
    value of it than over the whole family: split-KV and the like decide there."""
    lines = []
    with_by = cells[cells["by"].notna()]
    for (model, family, value), group in with_by.groupby(["gpu_name", "family", "by"], sort=True):
        mine = best[(best["gpu_name"] == model) & (best["family"] == family)]
        here = rank(group)
        if here is not None and not mine.empty and here["implementation"] != mine.iloc[0]["implementation"]:
            lines.append(f"{model}, {family}, {group['by_name'].iloc[0]} "
                         f"{value:g}: **{here['implementation']}** {num(here['speed'])} {here['unit']} "
                         f"(over the family: `{mine.iloc[0]['implementation']}`)")
    return lines


def speedups(cells: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per implementation and GPU model: geometric mean of baseline time / model time over the
    points both timed, and how many points that is."""
    times = per_model(cells, "median_ms")
    out = []
    for impl, table in times.groupby(level="implementation", sort=False):
        for model in times.columns:
            both = pd.DataFrame({"base": table[baseline], "model": table[model]}).dropna()
            if len(both):
                out.append({"implementation": impl, "gpu_name": model,
                            "speedup": geomean(both["base"] / both["model"]), "points": len(both)})
    return pd.DataFrame(out, columns=["implementation", "gpu_name", "speedup", "points"])


def fastest_by_point(cells: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Point x GPU model: the fastest implementation there, for the points every model timed."""
    trusted = cells[~cells["suspect"].fillna(False)]
    best = trusted.sort_values("median_ms", kind="stable").drop_duplicates([*POINT, "gpu_name"])
    table = best.pivot(index=POINT, columns="gpu_name", values="implementation")
    return table.reindex(columns=models).dropna()


def fastest_differs(shared: pd.DataFrame, models: list[str]) -> list[str]:
    """The shared points where the fastest implementation is not the same on every model."""
    lines = []
    for key, best in zip(shared.index, shared.to_numpy()):
        if len(set(best)) > 1:
            point = dict(zip(POINT, key))
            names = ", ".join(f"{m} `{b}`" for m, b in zip(models, best))
            lines.append(f"{point['sweep']}: {point['point']}: {names}")
    return lines


def headline_section(cells: pd.DataFrame, models: list[str], baseline: str) -> Section:
    section = Section("Headline")
    if cells.empty:
        section.blocks.append("No timed benchmark point in these runs.")
        return section
    best = fastest_per_family(cells)
    section.blocks += [sentence(best, speedups(cells, baseline), models, baseline),
                       "Fastest implementation per GPU model and shape family, by sustained speed (the card held "
                       "at its power cap by back-to-back calls; the burst figure of the same cell, a few calls "
                       "after idle as vendors' tables time it, in brackets), over the points the most "
                       "implementations ran (how many in brackets):",
                       Table(["shape family", *models], [
                           [family, *(cell_text(best, m, family) for m in models)]
                           for family in dict.fromkeys(best["family"])])]
    by = fastest_by(cells, best)
    if by:
        section.blocks += ["Where the fastest differs within a family:", by[:MAX_LISTED]]
    if len(models) > 1:
        section.blocks += compare_models(cells, models, baseline)
    return section


def compare_models(cells: pd.DataFrame, models: list[str], baseline: str) -> list:
    ups = speedups(cells, baseline)
    blocks = [f"Speed-up over {baseline} (geometric mean of its time ÷ the model's, over the points both timed; "
              "points in brackets):", speedup_table(ups, models)]
    shared = fastest_by_point(cells, models)
    differs = fastest_differs(shared, models)
    blocks.append(f"The fastest implementation differs between GPU models at {len(differs)} of {len(shared)} "
                  "points every model timed" + (":" if differs else "."))
    if differs:
        blocks.append(differs[:MAX_LISTED] + ([f"… and {len(differs) - MAX_LISTED} more"]
                                              if len(differs) > MAX_LISTED else []))
    return blocks


def cell_text(best: pd.DataFrame, model: str, family: str) -> str:
    row = best[(best["gpu_name"] == model) & (best["family"] == family)]
    if row.empty:
        return "—"
    r = row.iloc[0]
    burst = f", burst {num(r['burst'])}" if pd.notna(r["burst"]) else ""
    points = f"{r['points']} point" + ("s" if r["points"] != 1 else "")
    return f"**{r['implementation']}** {num(r['speed'])} {r['unit']} ({points}{burst})"


def speedup_table(ups: pd.DataFrame, models: list[str]) -> Table:
    rows = []
    for impl, group in ups.groupby("implementation", sort=False):
        by_model = group.set_index("gpu_name")
        rows.append([impl, *(f"{by_model.loc[m, 'speedup']:.2f}× ({by_model.loc[m, 'points']})"
                             if m in by_model.index else "—" for m in models)])
    return Table(["implementation", *models], rows)


def sentence(best: pd.DataFrame, ups: pd.DataFrame, models: list[str], baseline: str) -> str:
    """One line a person reads first: each model against the baseline on its fastest implementations."""
    wins = best.groupby("gpu_name")["implementation"].agg(lambda s: s.value_counts().index[0])
    parts = []
    for model in models:
        top = wins.get(model)
        text = f"{model}: fastest mostly `{top}`" if top else f"{model}: no implementation ran all of a family"
        if model != baseline and top is not None:
            up = ups[(ups["implementation"] == top) & (ups["gpu_name"] == model)]
            text += f", {up.iloc[0]['speedup']:.2f}× {baseline} on it" if not up.empty else ""
        parts.append(text)
    return "; ".join(parts) + "."


def compared_devices(frame: pd.DataFrame, models: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The compared models' devices (one row per run and device) and their (model, protocol) pairs:
    only the columns read, each distinct once (a copy of every column costs seconds at 1M rows)."""
    compared = frame["gpu_name"].isin(models).fillna(False).to_numpy()
    env = frame.loc[compared, ["run", "hostname", "device", "gpu_name", *SOFTWARE, "power_limit_w"]]
    return (env.drop_duplicates(["run", "hostname", "device"]),
            frame.loc[compared, ["gpu_name", "protocol"]].drop_duplicates())


def confounder_section(frame: pd.DataFrame, models: list[str]) -> Section:
    """Software and power limit per GPU model, with a warning when compared models differ."""
    section = Section("What else differs between the GPU models")
    env, timed = compared_devices(frame, models)
    rows, software, timing = [], {}, {}
    for model in models:
        mine = env[env["gpu_name"] == model]
        values = {c: ", ".join(sorted({str(v) for v in mine[c].dropna() if str(v)})) or "—" for c in SOFTWARE}
        software[model] = tuple(values[c] for c in SOFTWARE[:4])
        timing[model] = protocols(timed[timed["gpu_name"] == model])
        rows.append([model, str(mine["run"].nunique()), str(len(mine)), *(values[c] for c in SOFTWARE),
                     watts(mine["power_limit_w"]), timing[model]])
    if len(set(software.values())) > 1:
        section.blocks.append("**Warning:** the GPU models compared here ran different software (below): part of "
                              "any difference between them may be the software's.")
    if len(set(timing.values())) > 1:
        section.blocks.append("**Warning:** the GPU models compared here were timed by different protocols (below): "
                              "a fixed window spans about two power-cap cycles, an adaptive one one (docs/methods.md).")
    header = ["GPU model", "runs", "devices", "torch", "CUDA", "cuDNN", "driver", "packages", "power limit", "timing"]
    section.blocks.append(Table(header, rows))
    return section


def protocols(rows: pd.DataFrame) -> str:
    """The timing protocols of a model's timed rows."""
    return ", ".join(sorted(set(rows["protocol"].dropna()))) or "—"


def watts(values: pd.Series) -> str:
    values = values.dropna()
    return "—" if values.empty else ", ".join(f"{v:.0f} W" for v in sorted(set(values)))
