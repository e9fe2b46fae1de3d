"""Where finished jobs go: the run directory's journals, and a progress line per job."""
from __future__ import annotations

import sys
from collections import Counter

from base.journal import Journal
from base.rundir import RESULTS, SAMPLES, RunDir
from base.schema import DeviceInfo, Result
from jobs import JOBS


class RunSink:
    def __init__(self, run_dir: RunDir, total: int, out=None):
        self.run_dir = run_dir
        self.results = Journal(run_dir.file(RESULTS))
        self.samples = Journal(run_dir.file(SAMPLES))
        self.total, self.out = total, out or sys.stdout
        self.counts: Counter[str] = Counter()

    def record(self, result: Result, samples_ms: tuple[float, ...] = ()) -> None:
        """Samples first, then the row: a row on disk means its samples are too."""
        if samples_ms:
            self.samples.append({"job_id": result.job_id, "samples_ms": list(samples_ms)})
        self.results.append(result.row())
        self.counts[result.status] += 1
        self.progress(result)

    def record_all(self, results: list[Result]) -> None:
        """Rows without samples: jobs that ended without their worker's answer."""
        for result in results:
            self.record(result)

    def progress(self, r: Result) -> None:
        done = sum(self.counts.values())
        failed = done - self.counts["ok"]
        print(f"[{done:>4}/{self.total}] {r.status:<11} {r.where['device']:<7} {r.spec.params.implementation():<10} "
              f"{r.spec.sweep}: {r.spec.label()}  {summary(r)}  (not ok so far: {failed})",
              file=self.out, flush=True)

    def device_changed(self, info: DeviceInfo) -> None:
        """A worker came back from a restart: the manifest names its new process."""
        self.run_dir.update_device(info)

    def close(self) -> None:
        self.results.close()
        self.samples.close()


def summary(r: Result) -> str:
    """The row's headline: its check or its timing when it has one, else the first line of its error."""
    m = r.metrics
    if m.get("check") is not None:
        return f"{m['check'][:90]} (error {m['err_ratio']:.3g}x baseline)"
    if m.get("median_ms") is not None:
        speed = JOBS[r.spec.job].report.speed
        unit = {"tflops": "TFLOPS", "gbs": "GB/s"}.get(speed, "")
        return f"{m['median_ms']:9.3f} ms" + (f" {m[speed]:8.2f} {unit}" if m.get(speed) is not None else "")
    return r.error.splitlines()[0][:80] if r.error else ""
