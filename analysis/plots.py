"""The report's figures (matplotlib, PNG): each shape family's speed (TFLOPS, GB/s) against the
parameter its curve runs along (log scale), a panel per implementation and a line per GPU model when
models are compared (one panel, a line per implementation, for a single model; a job that ranks
within a parameter, such as decode's batch, gets a panel per value of it); each model's speed-up
over the baseline model per implementation; the correctness error ratio per implementation; each
implementation's time across dates (analysis/trend.py).
An implementation keeps one color in every figure of a report (`palette`, made once per report);
a figure's title is its caption, never drawn in the figure: axes titles only name panels. Each
Figure says what its legend entries are drawn in and which titles it draws, so tests can hold that.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from analysis.document import Figure  # noqa: E402
from base.schema import clip  # noqa: E402

MAX_FIGURES = 12  # a huge sweep still gives a readable report
MAX_PANELS = 8
PLAIN_TEXT = {"text.parse_math": False}  # names as written: a `$` in a candidate's name is not mathtext


def draw(what: str, make: Callable[..., list[Figure]], *args) -> list[Figure | str]:
    """The figures `make(*args)` draws, names shown as written; if matplotlib fails on the data,
    a line saying so in their place: a plot never costs the report."""
    try:
        with plt.rc_context(PLAIN_TEXT):
            return list(make(*args))
    except Exception as err:  # noqa: BLE001 - whatever matplotlib raises, the rest of the report stands
        plt.close("all")
        return [f"The {what} could not be drawn: {type(err).__name__}: {clip(str(err), 300)}"]


def palette(names: list[str]) -> dict[str, tuple]:
    """One color per name (implementations, GPU models), the same in every figure of a report."""
    colors = plt.get_cmap("tab20").colors
    named = [n for n in dict.fromkeys(names) if n]  # a job without an implementation (ceilings) draws no line
    return {name: colors[(2 * i) % 20 + (i // 10) % 2] for i, name in enumerate(named)}


def set_margins(fig: plt.Figure, left_in: float, right_in: float, bottom_in: float, top_in: float) -> None:
    """Margins in inches, fixed: tight_layout would draw every figure once more to measure its labels."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left_in / width, right=1 - right_in / width, bottom=bottom_in / height,
                        top=1 - top_in / height, wspace=0.15)


def legend_colors(fig: plt.Figure) -> dict[str, str]:
    """Each legend entry's label -> the color its handle is drawn in (a line's, a bar's face)."""
    found = {}
    for legend in filter(None, [ax.get_legend() for ax in fig.axes]):
        for handle, label in zip(legend.legend_handles, legend.get_texts()):
            color = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            found[label.get_text()] = to_hex(color)
    return found


def finish(title: str, fig: plt.Figure, path: Path) -> Figure:
    """Save and close the figure; the Figure says what it drew."""
    titles = [t for t in [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)] if t]
    legend = legend_colors(fig)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Figure(title, path, legend, tuple(titles))


def speed_figures(cells: pd.DataFrame, models: list[str], colors: dict[str, tuple], out_dir: Path) -> list[Figure]:
    figures = []
    for family, cells_of in cells.groupby("family", sort=False, dropna=False):
        if cells_of["x"].nunique() < 2 or len(figures) == MAX_FIGURES:
            continue
        unit, x_name = cells_of["speed_unit"].iloc[0], cells_of["x_name"].iloc[0]
        title = f"{unit} against {x_name}: {family}"
        figures.append(draw_family(title, cells_of, models, colors, out_dir / f"speed_{len(figures)}.png"))
    return figures


def panels_of(family: pd.DataFrame, models: list[str]) -> tuple[str, str, list, list]:
    """(panel column, line column, panels, lines): compare models: a panel per implementation; one
    model: a panel per value of the job's `by` parameter where it has one, its implementations as lines."""
    impls = list(dict.fromkeys(family["implementation"]))
    if len(models) > 1:
        return "implementation", "gpu_name", impls[:MAX_PANELS], models
    if family["by"].notna().any():
        return "by", "implementation", sorted(family["by"].dropna().unique())[:MAX_PANELS], impls
    return "gpu_name", "implementation", models, impls


def draw_family(title: str, family: pd.DataFrame, models: list[str], colors: dict[str, tuple], path: Path) -> Figure:
    panel, line, panels, lines = panels_of(family, models)
    legend_outside = line == "implementation"
    width = 3.6 * len(panels) + (2.7 if legend_outside else 0.8)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(width, 9.0 if legend_outside else 0), 3.8), squeeze=False,
                             sharey=True)
    xs = sorted(family["x"].unique())
    for ax, name in zip(axes[0], panels):
        mine = family[family[panel] == name]
        for label in lines:
            curve = mine[mine[line] == label].groupby("x")["speed"].median()
            if len(curve):
                ax.plot(curve.index, curve.values, marker="o", label=label, color=colors.get(label))
        if len(panels) > 1:
            ax.set_title(f"{family['by_name'].iloc[0]} {name:g}" if panel == "by" else str(name), fontsize=10)
        ax.set(xlabel=family["x_name"].iloc[0], xscale="log")
        # the measured values as the only ticks: log axes otherwise label minor ticks, which was slow
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"{family['speed_unit'].iloc[0]} (sustained)")
    outside = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)} if legend_outside else {}
    axes[0][-1 if outside else 0].legend(title=line.replace("gpu_name", "GPU model"), fontsize=8, **outside)
    set_margins(fig, left_in=0.75, right_in=1.9 if legend_outside else 0.15, bottom_in=0.55, top_in=0.35)
    return finish(title, fig, path)


def speedup_figure(ups: pd.DataFrame, baseline: str, colors: dict[str, tuple], out_dir: Path) -> list[Figure]:
    others = ups[ups["gpu_name"] != baseline]
    if others.empty:
        return []
    table = others.pivot(index="implementation", columns="gpu_name", values="speedup")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(table) + 2.5), 4))
    table.plot.bar(ax=ax, rot=0, color=[colors.get(m) for m in table.columns])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set(xlabel="implementation", ylabel="speed-up (×)")
    ax.legend(title="GPU model", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    set_margins(fig, left_in=0.75, right_in=2.2, bottom_in=0.6, top_in=0.2)
    return [finish(f"Speed-up over {baseline} per implementation (geometric mean over the points both timed)", fig,
                   out_dir / "speedup.png")]


def correctness_figure(frame: pd.DataFrame, colors: dict[str, tuple], out_dir: Path) -> list[Figure]:
    rows = frame[(frame["kind"] == "check") & (frame["status"] == "ok")]
    if rows.empty:
        return []
    worst = rows.groupby(["gpu_name", "dtype", "implementation"], sort=False)["err_ratio"].max()
    worst = worst.unstack("implementation")
    worst.index = [f"{textwrap.fill(model, 16)}\n{dtype}" for model, dtype in worst.index]  # long names overlapped
    fig, ax = plt.subplots(figsize=(max(7.0, 2.2 * len(worst)), 4.5))
    worst.plot.bar(ax=ax, logy=True, rot=0, color=[colors.get(i) for i in worst.columns])
    ax.axhline(2.0, color="black", linestyle="--", label="pass limit (2×)")  # red is an implementation's color
    low, high = worst.min().min(), worst.max().max()
    ax.set_ylim(min(0.1, low / 2) if low > 0 else 0.01, max(10.0, high * 2))
    ax.set(xlabel="GPU model and dtype", ylabel="worst error ÷ input-dtype formula's (log)")
    ax.legend(title="implementation", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    set_margins(fig, left_in=0.75, right_in=1.8, bottom_in=1.2, top_in=0.2)
    return [finish("Correctness: worst error ÷ the input-dtype formula's, per implementation (pass ≤ 2×)", fig,
                   out_dir / "correctness.png")]


TREND_KEY = ["job", "sweep", "point", "gpu_name", "implementation", "timer"]


def relative_trend(history: pd.DataFrame) -> pd.Series:
    """(GPU model, implementation, date) -> the geometric mean over its points of the time on that date
    ÷ the point's time on its first date."""
    history = history.sort_values("date", kind="stable")
    first = history.groupby(TREND_KEY, dropna=False, sort=False)["median_ms"].transform("first")
    logs = np.log(history["median_ms"] / first)
    return np.exp(logs.groupby([history["gpu_name"], history["implementation"], history["date"]]).mean())


def trend_figure(history: pd.DataFrame, models: list[str], colors: dict[str, tuple], out_dir: Path) -> list[Figure]:
    """A panel per GPU model whose runs span dates, a line per implementation across the dates."""
    if history.empty or not models:
        return []
    trend, dates, panels = relative_trend(history), sorted(history["date"].unique()), models[:MAX_PANELS]
    fig, axes = plt.subplots(1, len(panels), figsize=(max(9.0, 3.8 * len(panels) + 2.7), 3.8), squeeze=False,
                             sharey=True)
    for ax, model in zip(axes[0], panels):
        for impl, curve in trend[model].groupby(level=0, sort=False):
            curve = curve.droplevel(0)
            ax.plot([dates.index(d) for d in curve.index], curve.values, marker="o", label=impl, color=colors.get(impl))
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(dates)), dates, rotation=30, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
        if len(panels) > 1:
            ax.set_title(model, fontsize=10)
    axes[0][0].set_ylabel("time ÷ first date's (geo. mean)")
    axes[0][-1].legend(title="implementation", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    set_margins(fig, left_in=0.75, right_in=1.9, bottom_in=0.9, top_in=0.35)
    name = models[0] if len(panels) == 1 else "per GPU model"
    return [finish(f"Time per call across dates, {name}: each point against its first date, the geometric mean per "
                   "implementation (lower is faster)", fig, out_dir / "trend.png")]
