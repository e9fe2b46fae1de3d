"""sdpa-bench's medians against an independent timer on the same points, from two commands of one call:

    python -m orchestrator run -c CONFIG -o RUN_DIR
    python benchmarks/do_bench_loop.py CONFIG LOOP.json [--warmup 1000 --rep 2000 | --burst] [...]
    python benchmarks/against_do_bench.py RUN_DIR LOOP.json [OUT.json] [--burst]

The loop builds the same callables as sdpa-bench (each job's `prepared`), so a difference is the
timer's. The sustained median (`median_ms`) is held against a do_bench loop; with --burst, the
burst median (`burst_ms`) against the loop's --burst. Prints a line per point, then per
implementation the largest and the median difference; writes every pair to OUT.json. Torch-free.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from analysis.frame import load_results


def pairs(run_dir: Path, loop_json: Path, column: str) -> list[dict]:
    frame = load_results(run_dir)
    ok = frame[(frame["kind"] == "speed") & (frame["status"] == "ok")]
    mine = {f"{r['implementation']} {r['sweep']} {r['point']}": r for r in ok.to_dict("records")}
    out = []
    for point in json.loads(loop_json.read_text())["points"]:
        row = mine.get(point["point"])
        if row is not None and point["median_ms"] and row[column] == row[column]:
            out.append({"point": point["point"], "implementation": row["implementation"],
                        "sdpa_bench_ms": row[column], "loop_ms": point["median_ms"],
                        "diff_pct": 100 * (row[column] / point["median_ms"] - 1), "speed_unit": row["speed_unit"],
                        "sm_clock_mhz": row["sm_clock_mhz"], "burst_clock_mhz": row.get("burst_clock_mhz")})
    return out


def main(run_dir: Path, loop_json: Path, out: Path | None, column: str) -> None:
    rows = pairs(run_dir, loop_json, column)
    print(f"{column} against the loop")
    for r in rows:
        print(f"{r['point']:<78}{r['sdpa_bench_ms']:>10.4f}{r['loop_ms']:>10.4f}{r['diff_pct']:>+8.2f}%")
    print(f"\n{'implementation':<16}{'points':>7}{'largest |diff|':>16}{'median diff':>13}")
    for impl in dict.fromkeys(r["implementation"] for r in rows):
        diffs = [r["diff_pct"] for r in rows if r["implementation"] == impl]
        print(f"{impl:<16}{len(diffs):>7}{max(map(abs, diffs)):>15.2f}%{statistics.median(diffs):>+12.2f}%")
    if out:
        out.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--burst"]
    main(Path(args[0]), Path(args[1]), Path(args[2]) if len(args) > 2 else None,
         "burst_ms" if "--burst" in sys.argv else "median_ms")
