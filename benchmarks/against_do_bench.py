"""sdpa-bench's medians against triton's do_bench on the same points, from two commands of one call:

    python -m orchestrator run -c CONFIG -o RUN_DIR
    python benchmarks/do_bench_loop.py CONFIG LOOP.json --warmup 1000 --rep 2000 [--backends fa4,flex]
    python benchmarks/against_do_bench.py RUN_DIR LOOP.json [OUT.json]

The loop builds the same inputs and callables as sdpa-bench (jobs.sdpa_benchmark), so a
difference is the timer's. Prints a line per point, then per implementation the largest and the
median difference; writes every pair to OUT.json. Torch-free: it only reads the two results.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from analysis.frame import load_results
from base.point import point_label


def pairs(run_dir: Path, loop_json: Path) -> list[dict]:
    frame = load_results(run_dir)
    ok = frame[(frame["job"] == "sdpa_benchmark") & (frame["status"] == "ok")]
    mine = {f"{r['implementation']} {r['sweep']} {point_label(r)}": r for r in ok.to_dict("records")}
    out = []
    for point in json.loads(loop_json.read_text())["points"]:
        row = mine.get(point["point"])
        if row is not None and point["median_ms"]:
            out.append({"point": point["point"], "implementation": row["implementation"],
                        "sdpa_bench_ms": row["median_ms"], "do_bench_ms": point["median_ms"],
                        "diff_pct": 100 * (row["median_ms"] / point["median_ms"] - 1),
                        "sm_clock_mhz": row["sm_clock_mhz"], "compile_s": row["compile_s"]})
    return out


def main(run_dir: Path, loop_json: Path, out: Path | None) -> None:
    rows = pairs(run_dir, loop_json)
    for r in rows:
        print(f"{r['point']:<64}{r['sdpa_bench_ms']:>10.4f}{r['do_bench_ms']:>10.4f}{r['diff_pct']:>+8.2f}%")
    print(f"\n{'implementation':<16}{'points':>7}{'largest |diff|':>16}{'median diff':>13}")
    for impl in dict.fromkeys(r["implementation"] for r in rows):
        diffs = [r["diff_pct"] for r in rows if r["implementation"] == impl]
        print(f"{impl:<16}{len(diffs):>7}{max(map(abs, diffs)):>15.2f}%{statistics.median(diffs):>+12.2f}%")
    if out:
        out.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
