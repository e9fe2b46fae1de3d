"""Where finished jobs go: the run directory's journals, and a progress line per job."""
from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path

from orchestrator.results import Journal, Result


class RunSink:
    def __init__(self, run_dir: Path, total: int, out=sys.stdout):
        self.results = Journal(run_dir / "results.jsonl")
        self.samples = Journal(run_dir / "samples.jsonl")
        self.total, self.out = total, out
        self.counts: Counter[str] = Counter()

    def record(self, result: Result, samples_ms: tuple[float, ...]) -> None:
        """Samples first, then the row: a row on disk means its samples are too."""
        if samples_ms:
            self.samples.append({"job_id": result.job_id, "samples_ms": list(samples_ms)})
        self.results.append(dataclasses.asdict(result))
        self.counts[result.status] += 1
        self.progress(result)

    def progress(self, r: Result) -> None:
        done = sum(self.counts.values())
        failed = done - self.counts["ok"]
        print(f"[{done:>4}/{self.total}] {r.status:<11} {r.device:<7} {r.backend:<10} "
              f"{r.sweep}: {r.batch}x{r.heads}x{r.seq_len}x{r.head_dim} {r.dtype} "
              f"{'causal ' if r.causal else ''}{r.mode}  {summary(r)}  (not ok so far: {failed})",
              file=self.out, flush=True)

    def close(self) -> None:
        self.results.close()
        self.samples.close()


def summary(r: Result) -> str:
    """The row's headline: its timing when it has one, else the first line of its error."""
    if r.check is not None:
        return f"{r.check[:90]} (error {r.err_ratio:.3g}x baseline)"
    if r.median_ms is not None:
        return f"{r.median_ms:9.3f} ms" + (f" {r.tflops:8.2f} TFLOPS" if r.tflops is not None else "")
    return r.error.splitlines()[0][:80] if r.error else ""
