"""The report's first screen: which implementation is fastest on each GPU model, how the models
compare, and what might confound that comparison (different software, power limits).

Every number comes from `analysis.cells`: one cell per (point, GPU model, implementation), the
median over that model's devices and runs.
"""
from __future__ import annotations

import pandas as pd

from analysis.cells import FAMILY, POINT, geomean, per_model
from analysis.document import Section, Table
from base.point import point_label

SOFTWARE = ["torch_version", "cuda_version", "cudnn_version", "driver_version"]
MAX_LISTED = 10


def family_label(key: tuple) -> str:
    dtype, head_dim, causal, mode = key
    return f"{dtype} d{head_dim} {'causal' if causal else 'non-causal'} {mode}"


def fastest_per_family(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (GPU model, shape family): the implementation that ran every point the model ran there
    and has the highest median TFLOPS over them; `points` and `tflops` say over how many, how fast."""
    rows = []
    for (model, *family), group in cells.groupby(["gpu_name", *FAMILY], sort=False, dropna=False):
        points = group[POINT].drop_duplicates()
        scores = group.groupby("implementation", sort=False).agg(covered=("tflops", "size"),
                                                                 tflops=("tflops", "median"))
        full = scores[scores["covered"] == len(points)]
        if full.empty:
            continue
        best = full["tflops"].idxmax()
        rows.append({"gpu_name": model, "family": family_label(tuple(family)), "implementation": best,
                     "tflops": full.loc[best, "tflops"], "points": len(points)})
    return pd.DataFrame(rows, columns=["gpu_name", "family", "implementation", "tflops", "points"])


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
    best = cells.sort_values("median_ms", kind="stable").drop_duplicates([*POINT, "gpu_name"])
    table = best.pivot(index=POINT, columns="gpu_name", values="implementation")
    return table.reindex(columns=models).dropna()


def fastest_differs(shared: pd.DataFrame, models: list[str]) -> list[str]:
    """The shared points where the fastest implementation is not the same on every model."""
    lines = []
    for key, best in zip(shared.index, shared.to_numpy()):
        if len(set(best)) > 1:
            point = dict(zip(POINT, key))
            names = ", ".join(f"{m} `{b}`" for m, b in zip(models, best))
            lines.append(f"{point['sweep']}: {point_label(point)}: {names}")
    return lines


def headline_section(cells: pd.DataFrame, models: list[str], baseline: str) -> Section:
    section = Section("Headline")
    if cells.empty:
        section.blocks.append("No timed benchmark point in these runs.")
        return section
    best = fastest_per_family(cells)
    section.blocks += [sentence(best, speedups(cells, baseline), models, baseline),
                       "Fastest implementation per GPU model and shape family (the one that ran every point "
                       "of the family, by median TFLOPS over them):",
                       Table(["shape family", *models], [
                           [family, *(cell_text(best, m, family) for m in models)]
                           for family in dict.fromkeys(best["family"])])]
    if len(models) > 1:
        ups = speedups(cells, baseline)
        section.blocks += [f"Speed-up over {baseline} (geometric mean of its time ÷ the model's, over the points "
                           "both timed; points in brackets):", speedup_table(ups, models)]
        shared = fastest_by_point(cells, models)
        differs = fastest_differs(shared, models)
        section.blocks.append(f"The fastest implementation differs between GPU models at {len(differs)} of "
                              f"{len(shared)} points every model timed" + (":" if differs else "."))
        if differs:
            section.blocks.append(differs[:MAX_LISTED] + ([f"… and {len(differs) - MAX_LISTED} more"]
                                                          if len(differs) > MAX_LISTED else []))
    return section


def cell_text(best: pd.DataFrame, model: str, family: str) -> str:
    row = best[(best["gpu_name"] == model) & (best["family"] == family)]
    return "—" if row.empty else f"**{row.iloc[0]['implementation']}** {row.iloc[0]['tflops']:.3g} TFLOPS"


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


def confounder_section(frame: pd.DataFrame, models: list[str]) -> Section:
    """Software and power limit per GPU model, with a warning when compared models differ."""
    section = Section("What else differs between the GPU models")
    env = frame[frame["gpu_name"].isin(models)].drop_duplicates(["run", "hostname", "device"])
    rows, software, timing = [], {}, {}
    for model in models:
        mine = env[env["gpu_name"] == model]
        values = {c: ", ".join(sorted({str(v) for v in mine[c].dropna()})) or "—" for c in [*SOFTWARE, "power_limit_w"]}
        software[model] = tuple(values[c] for c in SOFTWARE)
        timing[model] = protocols(frame[frame["gpu_name"] == model])
        rows.append([model, str(mine["run"].nunique()), str(len(mine)), *(values[c] for c in SOFTWARE),
                     watts(mine["power_limit_w"]), timing[model]])
    if len(set(software.values())) > 1:
        section.blocks.append("**Warning:** the GPU models compared here ran different software (below): part of "
                              "any difference between them may be the software's.")
    if len(set(timing.values())) > 1:
        section.blocks.append("**Warning:** the GPU models compared here were timed by different protocols (below): "
                              "a fixed window spans about two power-cap cycles, an adaptive one one (docs/methods.md).")
    header = ["GPU model", "runs", "devices", "torch", "CUDA", "cuDNN", "driver", "power limit", "timing"]
    section.blocks.append(Table(header, rows))
    return section


def protocols(rows: pd.DataFrame) -> str:
    """The timing protocols of a model's timed rows."""
    return ", ".join(sorted(set(rows["protocol"].dropna()))) or "—"


def watts(values: pd.Series) -> str:
    values = values.dropna()
    return "—" if values.empty else ", ".join(f"{v:.0f} W" for v in sorted(set(values)))
