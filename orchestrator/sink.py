"""Where finished jobs go: the run directory's journals, and the run's progress display."""
from __future__ import annotations

from base.journal import Journal
from base.rundir import RESULTS, SAMPLES, RunDir
from base.schema import DeviceInfo, Result
from orchestrator.progress import make_progress


class RunSink:
    def __init__(self, run_dir: RunDir, total: int, progress=None):
        self.run_dir = run_dir
        self.results = Journal(run_dir.file(RESULTS))
        self.samples = Journal(run_dir.file(SAMPLES))
        self.total = total
        self.progress = progress or make_progress(total)

    def record(self, result: Result, samples_ms: tuple[float, ...] = ()) -> None:
        """Samples first, then the row: a row on disk means its samples are too."""
        if samples_ms:
            self.samples.append({"job_id": result.job_id, "samples_ms": list(samples_ms)})
        self.results.append(result.row())
        self.progress.job_done(result)

    def record_all(self, results: list[Result]) -> None:
        """Rows without samples: jobs that ended without their worker's answer."""
        for result in results:
            self.record(result)

    def note(self, text: str) -> None:
        """A message from the driver, printed where the progress display can keep its place."""
        self.progress.note(text)

    def tick(self) -> None:
        """The driver's loop woke: a summary or a redraw may be due."""
        self.progress.tick()

    def device_changed(self, info: DeviceInfo) -> None:
        """A worker came back from a restart: the manifest names its new process."""
        self.run_dir.update_device(info)

    def close(self) -> None:
        self.progress.close()
        self.results.close()
        self.samples.close()
