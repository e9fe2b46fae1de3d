"""One run, start to end: check the config, start workers, drive the jobs, write the report.

The run directory holds everything: config.yaml (what was asked), manifest.json (versions and
devices), results.jsonl and samples.jsonl (journals), then results.parquet and report.md.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import datetime
import importlib
import importlib.metadata
import json
import platform
import signal
import sys
import threading
import time
from pathlib import Path

import ray
import torch

from orchestrator.cluster import connect, start_workers
from orchestrator.config import Config, ConfigError
from orchestrator.devices import DeviceInfo
from orchestrator.driver import Slot, device_keys, drive, placement_key, plan_queues
from orchestrator.results import read_journal
from orchestrator.sink import RunSink
from orchestrator.sweep import expand_config

# -1: Ray restarts a dead worker as often as needed; the driver bounds retries per job.
WORKER_MAX_RESTARTS = -1


def prepare_run_dir(run_dir: Path, config_text: str, resume: bool) -> set[str]:
    """Create or reopen the run directory; returns the ids of jobs already finished there."""
    journal = run_dir / "results.jsonl"
    if not resume and journal.exists():
        raise ConfigError(f"{run_dir}: already holds results; continue it with --resume {run_dir} "
                          "or choose a new directory with -o")
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (run_dir / "config.yaml").write_text(config_text)
    return {row["job_id"] for row in read_journal(journal)}


def write_manifest(run_dir: Path, config: Config, infos: list[DeviceInfo], startup_s: dict[str, float]) -> None:
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"sessions": []}
    manifest["config"] = dataclasses.asdict(config)
    manifest["sessions"].append({
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv,
        "versions": {"python": platform.python_version(), "ray": ray.__version__,
                     "torch": torch.__version__, "cuda": torch.version.cuda, "pandas": importlib.metadata.version("pandas")},
        "devices": [dataclasses.asdict(i) for i in infos],
        "startup_s": startup_s,  # connecting to Ray, then starting the workers: fixed cost per run
    })
    path.write_text(json.dumps(manifest, indent=2))


def import_in_background(module: str) -> threading.Thread:
    """Import `module` on a thread; join the thread before using it. While Ray and the workers
    start, this process only waits on others; the report's pandas and matplotlib (1.3 s on a dev
    machine) load in that time rather than after the last job."""
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
    done = prepare_run_dir(run_dir, config_text, resume)
    report_import = import_in_background("analysis.report")
    t0 = time.perf_counter()
    connect(address)
    t1 = time.perf_counter()
    workers = start_workers(config.timing, config.run.memory_budget, WORKER_MAX_RESTARTS)
    startup_s = {"ray": round(t1 - t0, 2), "workers": round(time.perf_counter() - t1, 2)}
    infos = [info for _, info in workers]
    write_manifest(run_dir, config, infos, startup_s)
    keys = device_keys(infos)
    queues = plan_queues(jobs, list(zip(infos, keys)), config.run.placement, done)
    slots = [Slot(w, info, key, queues[placement_key(info, key, config.run.placement)])
             for (w, info), key in zip(workers, keys)]
    sink = RunSink(run_dir, total=sum(len(q) for q in queues.values()))
    print(f"sdpa-bench: {sink.total} jobs on {len(slots)} worker(s) "
          f"({', '.join(sorted({i.gpu_name for i in infos}))}); {len(done)} already done; "
          f"Ray up in {startup_s['ray']} s, workers in {startup_s['workers']} s", flush=True)
    signal.signal(signal.SIGTERM, raise_interrupt)
    interrupted = False
    try:
        drive(slots, config.run, sink)
    except KeyboardInterrupt:
        interrupted = True
        print("sdpa-bench: interrupted; stopping workers and reporting what finished", flush=True)
    finally:
        sink.close()
        for worker, _ in workers:
            ray.kill(worker, no_restart=True)
    report_import.join()
    from analysis.report import write_report  # loaded by now: a dictionary lookup
    return RunOutcome(write_report(run_dir), interrupted)
