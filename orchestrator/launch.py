"""One run, start to end: check the config and the run directory, start workers, drive the jobs,
write the report.

The run directory holds everything: config.yaml (what was asked), manifest.json (versions and
devices), results.jsonl and samples.jsonl (journals), then results.parquet and report.md. The
report is written from the journal before Ray is touched again, so an interrupted run (Ctrl-C,
SIGTERM to the whole process group, Ray's own processes gone) still ends with one.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import json
import platform
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from base.rundir import SCHEMA_FORMAT, RunDir
from base.schema import FIXED_TYPES, TAIL_TYPES
from jobs import JOBS
from orchestrator.config import Config, ConfigError
from orchestrator.sweep import SweepJob, expand_config

# -1: Ray restarts a dead worker as often as needed; the driver bounds retries per job.
WORKER_MAX_RESTARTS = -1


def run_schema(names: list[str]) -> dict:
    """schema.json for a run of these jobs: every column's type (a name means one type, whichever
    job writes it) and each job's parameters, metrics and report hints."""
    columns = dict(FIXED_TYPES)
    for name in names:
        for column, kind in {**JOBS[name].param_types(), **JOBS[name].metric_types()}.items():
            if columns.setdefault(column, kind) is not kind:
                raise TypeError(f"job {name} declares {column} a {kind.__name__}, another job a {columns[column]}")
    columns.update(TAIL_TYPES)
    return {"format": SCHEMA_FORMAT, "columns": {k: t.__name__ for k, t in columns.items()},
            "jobs": {name: JOBS[name].schema() for name in names}}


def prepare_run_dir(run_dir: RunDir, config: Config, config_text: str, jobs: list[SweepJob], resume: bool) -> set[str]:
    """Create or reopen the run directory and open a session in its manifest; returns the ids of
    jobs already finished there. Nothing is written before every check has passed."""
    asked = json.loads(json.dumps(dataclasses.asdict(config)))
    done = run_dir.check_resume(asked) if resume else set()
    if not resume:
        run_dir.check_new()
    names = list(dict.fromkeys(job.spec.job for job in jobs))
    run_dir.open_session(asked, None if resume else config_text, run_schema(names), sys.argv, driver_versions())
    return done


def driver_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("ray", "torch", "pandas"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = ""
    return versions


def import_in_background(module: str) -> threading.Thread:
    """Import `module` on a thread; join the thread before using it. While Ray and the workers
    start, this process only waits on others; the report's pandas and matplotlib load meanwhile."""
    thread = threading.Thread(target=importlib.import_module, args=(module,), daemon=True)
    thread.start()
    return thread


def raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass(frozen=True)
class Display:
    """How a run shows its progress (orchestrator/progress.py)."""
    verbose: bool = False  # a line per job as well
    every_s: float = 15.0  # not on a terminal: a summary line this often


@dataclass(frozen=True)
class RunOutcome:
    report: Path | None  # None: a second Ctrl-C stopped the report
    interrupted: bool  # stopped by Ctrl-C/SIGTERM before every job finished


def run_sweep(config: Config, config_text: str, path: Path, address: str | None,
              resume: bool = False, display: Display = Display()) -> RunOutcome:
    """Run every job of `config` not yet in the run directory at `path`, then write the report."""
    jobs = expand_config(config)  # every config error surfaces here, before Ray starts
    if address:
        from orchestrator.address import check_cluster

        check_cluster(address)  # before the run directory: a dead address costs nothing
    run_dir = RunDir(path)
    done = prepare_run_dir(run_dir, config, config_text, jobs, resume)
    report_import = import_in_background("analysis.report")
    try:
        interrupted = drive_run(config, jobs, done, run_dir, address, display)
        return RunOutcome(report(path, report_import), interrupted)
    except KeyboardInterrupt:  # Ctrl-C (a second one, after a first stopped the jobs) while the report was written
        print(f"sdpa-bench: interrupted while writing the report; every finished row is on disk and a previous "
              f"report is as it was; `sdpa-bench report {path}` writes it", flush=True)
        return RunOutcome(None, True)
    finally:
        run_dir.unlock()


def report(path: Path, report_import: threading.Thread) -> Path:
    report_import.join()
    from analysis.report import write_report  # loaded by now: a dictionary lookup

    return write_report([path])


def plan_slots(config: Config, jobs, done: set[str], workers: list) -> list:
    """One Slot per worker, each with the queue of jobs its placement key still has to run."""
    from orchestrator.driver import Slot, device_keys, placement_key, plan_queues

    infos = [info for _, info in workers]
    keys = device_keys(infos)
    queues = plan_queues(jobs, list(zip(infos, keys)), config.run.placement, done)
    return [Slot(w, info, key, queues[placement_key(info, key, config.run.placement)])
            for (w, info), key in zip(workers, keys)]


def drive_run(config: Config, jobs, done: set[str], run_dir: RunDir, address: str | None,
              display: Display = Display()) -> bool:
    """Start the workers and drive every job; True if interrupted. Ray is imported here."""
    from orchestrator.cluster import connect, start_workers, stop_workers
    from orchestrator.driver import drive
    from orchestrator.progress import make_progress
    from orchestrator.sink import RunSink

    workers, sink, previous = [], None, signal.getsignal(signal.SIGTERM)
    try:
        t0 = time.perf_counter()
        connect(address)
        # after ray.init, which installs a SIGTERM handler of its own that ends the process at once
        signal.signal(signal.SIGTERM, raise_interrupt)
        t1 = time.perf_counter()
        workers = start_workers(config.timing, config.run.memory_budget, WORKER_MAX_RESTARTS)
        startup_s = {"ray": round(t1 - t0, 2), "workers": round(time.perf_counter() - t1, 2)}
        run_dir.record_devices([info for _, info in workers], startup_s)
        slots = plan_slots(config, jobs, done, workers)
        queues = {id(s.queue): s.queue for s in slots}  # workers of one placement key share a queue
        total = sum(map(len, queues.values()))
        print(f"sdpa-bench: {total} jobs on {len(slots)} worker(s) "
              f"({', '.join(sorted({s.info.gpu_name for s in slots}))}); {len(done)} already done; "
              f"Ray up in {startup_s['ray']} s, workers in {startup_s['workers']} s", flush=True)
        sink = RunSink(run_dir, total, make_progress(total, verbose=display.verbose, every_s=display.every_s))
        drive(slots, config.run, sink)
        return False
    except OSError as err:  # the run directory's disk: full, gone read-only
        raise ConfigError(f"{run_dir.path}: cannot write: {err.strerror or err}; the run stopped; make room and "
                          f"continue it with --resume {run_dir.path}") from None
    except KeyboardInterrupt:
        message = "sdpa-bench: interrupted; stopping workers and reporting what finished"
        if sink is None:
            print(message, flush=True)
        else:
            sink.note(message)  # above the bar, where there is one
        return True
    finally:
        signal.signal(signal.SIGTERM, previous)  # a later sweep in this process gets its own
        if sink is not None:
            sink.close()
        stop_workers([w for w, _ in workers])
