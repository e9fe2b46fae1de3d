"""The report's figures (matplotlib, PNG): TFLOPS and % of peak against seq_len per backend, one
panel per GPU model; the correctness error ratio per backend. Labelled axes, units, titles."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

GROUP = ["dtype", "head_dim", "causal", "mode"]
MAX_FIGURES = 12  # per metric: a huge sweep still gives a readable report


def set_margins(fig: plt.Figure, left_in: float, right_in: float, bottom_in: float, top_in: float) -> None:
    """Margins in inches, fixed: tight_layout would draw every figure once more to measure its
    labels, which was a third of the report's time."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left_in / width, right=1 - right_in / width, bottom=bottom_in / height,
                        top=1 - top_in / height, wspace=0.15)


def seq_len_figures(frame: pd.DataFrame, out_dir: Path, metric: str, label: str) -> list[tuple[str, Path]]:
    ok = frame[(frame["job"] == "sdpa_benchmark") & (frame["status"] == "ok") & frame[metric].notna()]
    figures = []
    for key, group in ok.groupby(GROUP, sort=False):
        if group["seq_len"].nunique() < 2 or len(figures) == MAX_FIGURES:
            continue
        dtype, head_dim, causal, mode = key
        title = f"{label}: {dtype}, head_dim {head_dim}, {'causal' if causal else 'non-causal'}, {mode}"
        figures.append((title, draw_panels(group, metric, label, title, out_dir / f"{metric}_{len(figures)}.png")))
    return figures


def draw_panels(group: pd.DataFrame, metric: str, label: str, title: str, path: Path) -> Path:
    models = list(dict.fromkeys(group["gpu_name"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        curves = group[group["gpu_name"] == model].groupby(["backend", "seq_len"])[metric].median()
        for backend, curve in curves.groupby(level="backend", sort=False):
            ax.plot(curve.index.get_level_values("seq_len"), curve.values, marker="o", label=backend)
        seq_lens = sorted(group["seq_len"].unique())
        ax.set(title=model, xlabel="sequence length (tokens)", ylabel=label, xscale="log")
        # the measured lengths as the only x ticks: log axes otherwise label minor ticks, and
        # laying out those labels was most of the report's time
        ax.set_xticks(seq_lens, [str(s) for s in seq_lens])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(title="backend")
    fig.suptitle(title)
    set_margins(fig, left_in=0.75, right_in=0.15, bottom_in=0.55, top_in=0.75)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def correctness_figure(frame: pd.DataFrame, out_dir: Path) -> list[tuple[str, Path]]:
    rows = frame[(frame["job"] == "causal_correctness") & (frame["status"] == "ok")]
    if rows.empty:
        return []
    worst = rows.groupby(["gpu_name", "dtype", "backend"], sort=False)["err_ratio"].max().unstack("backend")
    worst.index = [f"{model}\n{dtype}" for model, dtype in worst.index]
    fig, ax = plt.subplots(figsize=(max(7.0, 2.2 * len(worst)), 4.5))
    worst.plot.bar(ax=ax, logy=True, rot=0)
    ax.axhline(2.0, color="red", linestyle="--", label="pass limit (2×)")
    ax.set_ylim(min(0.1, worst.min().min() / 2), max(10.0, worst.max().max() * 2))
    ax.set(title="Correctness: worst error ÷ input-dtype formula's (pass ≤ 2×)",
           xlabel="GPU model and dtype", ylabel="error ratio (log scale)")
    ax.legend(title="backend", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    set_margins(fig, left_in=0.75, right_in=1.8, bottom_in=0.9, top_in=0.45)
    path = out_dir / "correctness.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [("Correctness error ratio per backend", path)]


def make_plots(frame: pd.DataFrame, out_dir: Path) -> list[tuple[str, Path]]:
    out_dir.mkdir(exist_ok=True)
    return (seq_len_figures(frame, out_dir, "tflops", "TFLOPS")
            + seq_len_figures(frame, out_dir, "pct_of_peak", "% of measured matmul peak")
            + correctness_figure(frame, out_dir))
