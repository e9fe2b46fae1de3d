"""The report's figures (matplotlib, PNG): achieved TFLOPS against sequence length (log scale) for
each shape family, a panel per implementation and a line per GPU model when models are compared (one
panel, a line per implementation, for a single model); each model's speed-up over the baseline model
per implementation; the correctness error ratio per implementation."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.cells import FAMILY  # noqa: E402
from analysis.document import Figure  # noqa: E402
from analysis.headline import family_label  # noqa: E402

MAX_FIGURES = 12  # a huge sweep still gives a readable report
MAX_PANELS = 8


def set_margins(fig: plt.Figure, left_in: float, right_in: float, bottom_in: float, top_in: float) -> None:
    """Margins in inches, fixed: tight_layout would draw every figure once more to measure its labels."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left_in / width, right=1 - right_in / width, bottom=bottom_in / height,
                        top=1 - top_in / height, wspace=0.15)


def save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def tflops_figures(cells: pd.DataFrame, models: list[str], out_dir: Path) -> list[Figure]:
    figures = []
    for key, family in cells.groupby(FAMILY, sort=False, dropna=False):
        if family["seq_len"].nunique() < 2 or len(figures) == MAX_FIGURES:
            continue
        title = f"TFLOPS against sequence length: {family_label(key)}"
        path = draw_family(family, models, title, out_dir / f"tflops_{len(figures)}.png")
        figures.append(Figure(title, path))
    return figures


def draw_family(family: pd.DataFrame, models: list[str], title: str, path: Path) -> Path:
    impls = list(dict.fromkeys(family["implementation"]))
    # compare models: a panel per implementation; one model: its implementations side by side
    panel, line, panels, lines = (("implementation", "gpu_name", impls[:MAX_PANELS], models) if len(models) > 1
                                  else ("gpu_name", "implementation", models, impls))
    width, right_in = (3.6 * len(panels) + 0.8, 0.15) if len(models) > 1 else (9.0, 1.9)
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.8), squeeze=False, sharey=True)
    seq_lens = sorted(family["seq_len"].unique())
    for ax, name in zip(axes[0], panels):
        mine = family[family[panel] == name]
        for label in lines:
            curve = mine[mine[line] == label].groupby("seq_len")["tflops"].median()
            if len(curve):
                ax.plot(curve.index, curve.values, marker="o", label=label)
        ax.set(title=name, xlabel="sequence length (tokens)", xscale="log")
        # the measured lengths as the only ticks: log axes otherwise label minor ticks, which was slow
        ax.set_xticks(seq_lens, [str(s) for s in seq_lens])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("achieved TFLOPS")
    outside = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)} if len(models) == 1 else {}
    axes[0][-1 if outside else 0].legend(title=line.replace("gpu_name", "GPU model"), fontsize=8, **outside)
    fig.suptitle(title)
    set_margins(fig, left_in=0.75, right_in=right_in, bottom_in=0.55, top_in=0.75)
    return save(fig, path)


def speedup_figure(ups: pd.DataFrame, baseline: str, out_dir: Path) -> list[Figure]:
    others = ups[ups["gpu_name"] != baseline]
    if others.empty:
        return []
    table = others.pivot(index="implementation", columns="gpu_name", values="speedup")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(table) + 2.5), 4))
    table.plot.bar(ax=ax, rot=0)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set(title=f"Speed-up over {baseline} (geometric mean over shared points)", xlabel="implementation",
           ylabel=f"× {baseline}")
    ax.legend(title="GPU model", fontsize=8)
    set_margins(fig, left_in=0.75, right_in=0.15, bottom_in=0.6, top_in=0.45)
    return [Figure(f"Speed-up over {baseline} per implementation", save(fig, out_dir / "speedup.png"))]


def correctness_figure(frame: pd.DataFrame, out_dir: Path) -> list[Figure]:
    rows = frame[(frame["job"] == "causal_correctness") & (frame["status"] == "ok")]
    if rows.empty:
        return []
    worst = rows.groupby(["gpu_name", "dtype", "implementation"], sort=False)["err_ratio"].max()
    worst = worst.unstack("implementation")
    worst.index = [f"{model}\n{dtype}" for model, dtype in worst.index]
    fig, ax = plt.subplots(figsize=(max(7.0, 2.2 * len(worst)), 4.5))
    worst.plot.bar(ax=ax, logy=True, rot=0)
    ax.axhline(2.0, color="red", linestyle="--", label="pass limit (2×)")
    low, high = worst.min().min(), worst.max().max()
    ax.set_ylim(min(0.1, low / 2) if low > 0 else 0.01, max(10.0, high * 2))
    ax.set(title="Correctness: worst error ÷ input-dtype formula's (pass ≤ 2×)",
           xlabel="GPU model and dtype", ylabel="error ratio (log scale)")
    ax.legend(title="implementation", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    set_margins(fig, left_in=0.75, right_in=1.8, bottom_in=0.9, top_in=0.45)
    return [Figure("Correctness error ratio per implementation", save(fig, out_dir / "correctness.png"))]
