"""How long do the commands that only read take to start? `sdpa-bench --help`, `compare --help`
and `report --help`, each a fresh process, against `import torch` alone (what every command paid
when the config module imported the jobs).

    python benchmarks/cli_startup.py [REPEATS]      # default 5; prints the median wall seconds
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"sdpa-bench --help": ["-m", "orchestrator", "--help"],
            "sdpa-bench compare --help": ["-m", "orchestrator", "compare", "--help"],
            "sdpa-bench report --help": ["-m", "orchestrator", "report", "--help"],
            "python -c 'import torch'": ["-c", "import torch"]}


def wall_s(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def main(repeats: int) -> None:
    for args in COMMANDS.values():
        wall_s(args)  # one untimed run each: the first reads the files from disk
    print(f"{'command':<30}{'median s':>10}{'min s':>8}  ({repeats} runs each)")
    for name, args in COMMANDS.items():
        times = [wall_s(args) for _ in range(repeats)]
        print(f"{name:<30}{statistics.median(times):>10.2f}{min(times):>8.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
