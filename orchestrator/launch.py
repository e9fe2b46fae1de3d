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

from base.journal import prune_samples, read_journal
from base.manifest import read_manifest, record_devices, start_session
from orchestrator.config import Config, ConfigError
from orchestrator.sweep import expand_config

# -1: Ray restarts a dead worker as often as needed; the driver bounds retries per job.
WORKER_MAX_RESTARTS = -1


def config_differences(old: object, new: object, path: str = "config") -> list[str]:
    """Paths where two JSON-like configs differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = dict.fromkeys([*old, *new])
        return [d for k in keys for d in config_differences(old.get(k), new.get(k), f"{path}.{k}")]
    return [] if old == new else [f"{path}: {json.dumps(old)[:60]} -> {json.dumps(new)[:60]}"]


def check_resume(run_dir: Path, config: Config) -> set[str]:
    """The ids of the jobs already finished in `run_dir`, if it is a run this config may continue."""
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run directory; --resume takes a directory that `sdpa-bench run` wrote")
    manifest = read_manifest(run_dir)
    done = {row["job_id"] for row in read_journal(run_dir / "results.jsonl")}
    asked = json.loads(json.dumps(dataclasses.asdict(config)))
    changed = config_differences(manifest.get("config", asked), asked)
    if changed:
        raise ConfigError(f"{run_dir}: its config.yaml no longer matches the config its rows were made with "
                          f"({'; '.join(changed[:3])}); restore it, or start a new run with -o")
    prune_samples(run_dir / "samples.jsonl", done)
    return done


def check_new_run_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: is a file, not a directory; give a new directory with -o")
    present = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    if present & {"results.jsonl", "manifest.json"}:
        raise ConfigError(f"{run_dir}: already holds a run; continue it with --resume {run_dir} "
                          "or choose a new directory with -o")
    if present:
        raise ConfigError(f"{run_dir}: not empty and not a run ({', '.join(sorted(present)[:3])} ...); "
                          "give a new or empty directory with -o")


def prepare_run_dir(run_dir: Path, config: Config, config_text: str, resume: bool) -> set[str]:
    """Create or reopen the run directory and open a session in its manifest; returns the ids of
    jobs already finished there. Nothing is written before every check has passed."""
    done = check_resume(run_dir, config) if resume else set()
    if not resume:
        check_new_run_dir(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            (run_dir / "config.yaml").write_text(config_text, encoding="utf-8")
        start_session(run_dir, json.loads(json.dumps(dataclasses.asdict(config))), sys.argv, driver_versions())
    except OSError as err:
        raise ConfigError(f"{run_dir}: cannot write the run directory: {err.strerror or err}; "
                          "give a writable directory with room on its disk with -o") from None
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
class RunOutcome:
    report: Path
    interrupted: bool  # stopped by Ctrl-C/SIGTERM before every job finished


def run_sweep(config: Config, config_text: str, run_dir: Path, address: str | None,
              resume: bool = False) -> RunOutcome:
    """Run every job of `config` not yet in `run_dir`, then write the report."""
    jobs = expand_config(config)  # every config error surfaces here, before Ray starts
    done = prepare_run_dir(run_dir, config, config_text, resume)
    report_import = import_in_background("analysis.report")
    interrupted = drive_run(config, jobs, done, run_dir, address)
    report_import.join()
    from analysis.report import write_report  # loaded by now: a dictionary lookup
    return RunOutcome(write_report([run_dir]), interrupted)


def plan_slots(config: Config, jobs, done: set[str], workers: list) -> list:
    """One Slot per worker, each with the queue of jobs its placement key still has to run."""
    from orchestrator.driver import Slot, device_keys, placement_key, plan_queues

    infos = [info for _, info in workers]
    keys = device_keys(infos)
    queues = plan_queues(jobs, list(zip(infos, keys)), config.run.placement, done)
    return [Slot(w, info, key, queues[placement_key(info, key, config.run.placement)])
            for (w, info), key in zip(workers, keys)]


def drive_run(config: Config, jobs, done: set[str], run_dir: Path, address: str | None) -> bool:
    """Start the workers and drive every job; True if interrupted. Ray is imported here."""
    from orchestrator.cluster import connect, start_workers, stop_workers
    from orchestrator.driver import drive
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
        record_devices(run_dir, [info for _, info in workers], startup_s)
        slots = plan_slots(config, jobs, done, workers)
        queues = {id(s.queue): s.queue for s in slots}  # workers of one placement key share a queue
        sink = RunSink(run_dir, total=sum(map(len, queues.values())))
        print(f"sdpa-bench: {sink.total} jobs on {len(slots)} worker(s) "
              f"({', '.join(sorted({s.info.gpu_name for s in slots}))}); {len(done)} already done; "
              f"Ray up in {startup_s['ray']} s, workers in {startup_s['workers']} s", flush=True)
        drive(slots, config.run, sink)
        return False
    except OSError as err:  # the run directory's disk: full, gone read-only
        raise ConfigError(f"{run_dir}: cannot write: {err.strerror or err}; the run stopped; make room and "
                          f"continue it with --resume {run_dir}") from None
    except KeyboardInterrupt:
        print("sdpa-bench: interrupted; stopping workers and reporting what finished", flush=True)
        return True
    finally:
        signal.signal(signal.SIGTERM, previous)  # a later sweep in this process gets its own
        if sink is not None:
            sink.close()
        stop_workers([w for w, _ in workers])
