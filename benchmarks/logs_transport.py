"""How large a run directory can come back through a Ray job's logs?

Starts a local Ray head with the job API (as tests/test_submit.py does) and, for each N, submits a
job that writes a run directory of N jobs shaped like a real H200 run (docs/results/2026-11-26-
h200-adaptive-timing/final-code/run1: its rows, cycled with new ids, and its recorded samples, about
1,000 a timed job), writes its report, and prints it as base64 tar.gz (`sdpa-bench pack`), as a
submitted run does. The client then reads the logs back (`get_job_logs`, what `submit` and
`job fetch` do) and unpacks them. Prints per N: the run directory's size, the logs' size, and the
seconds to read them and to unpack them.

    python benchmarks/logs_transport.py [N ...]      # default: 1000 10000
"""
from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docs/results/2026-11-26-h200-adaptive-timing/final-code/run1"


def make_run(n: int, run_dir: Path, template: Path) -> None:
    """A run directory of `n` jobs from the template run's rows and samples, with its report."""
    from analysis.report import write_report

    rows = [json.loads(line) for line in (template / "results.jsonl").read_text().splitlines()]
    samples = {r["job_id"]: r["samples_ms"] for r in map(json.loads, gzip.open(template / "samples.jsonl.gz", "rt"))}
    run_dir.mkdir(parents=True)
    for name in ("config.yaml", "manifest.json"):
        shutil.copy(template / name, run_dir / name)
    with open(run_dir / "results.jsonl", "w") as out, open(run_dir / "samples.jsonl", "w") as out_samples:
        for i, row in zip(range(n), itertools.cycle(rows)):
            job_id = f"{i:016x}"
            if row["job_id"] in samples:
                out_samples.write(json.dumps({"job_id": job_id, "samples_ms": samples[row["job_id"]]}) + "\n")
            out.write(json.dumps({**row, "job_id": job_id, "sweep": f"{row['sweep']}_{i // len(rows)}"}) + "\n")
    write_report([run_dir])


def size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def stage(folder: Path) -> None:
    for package in ("base", "orchestrator", "jobs", "analysis"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(__file__, folder / "logs_transport.py")
    shutil.copytree(TEMPLATE, folder / "template")


def measure(client, n: int, folder: Path) -> None:
    from ray.job_submission import JobStatus

    from orchestrator.submit import unpack

    # a run directory of its own: jobs with the same working_dir share one folder on the cluster
    job = client.submit_job(entrypoint=f"python logs_transport.py --make {n} run{n} template && "
                                       f"python -m orchestrator pack run{n}", runtime_env={"working_dir": str(folder)})
    while (status := client.get_job_status(job)) not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
        time.sleep(1)
    t0 = time.perf_counter()
    try:
        logs = client.get_job_logs(job)
    except Exception as err:  # what a client sees is the measurement
        print(f"{n:>6} jobs: job {status}; reading its logs failed after {time.perf_counter() - t0:.1f} s: "
              f"{type(err).__name__}: {str(err)[:300]}", flush=True)
        return
    read_s = time.perf_counter() - t0
    if status != JobStatus.SUCCEEDED:
        print(f"{n:>6} jobs: job {status}; its log ends:\n{logs[-2000:]}", flush=True)
        return
    out = Path(tempfile.mkdtemp()) / "run"
    t1 = time.perf_counter()
    ok = unpack(logs, out)
    unpack_s = time.perf_counter() - t1
    rows = len((out / "results.jsonl").read_text().splitlines()) if ok else 0
    print(f"{n:>6} jobs: job {status}; run directory {size_mib(out) if ok else 0:.1f} MiB "
          f"(results.jsonl {(out / 'results.jsonl').stat().st_size / 2**20 if ok else 0:.1f} MiB, samples.jsonl "
          f"{(out / 'samples.jsonl').stat().st_size / 2**20 if ok else 0:.1f} MiB); logs {len(logs) / 2**20:.1f} MiB "
          f"read in {read_s:.1f} s, unpacked in {unpack_s:.1f} s; {rows} rows back", flush=True)
    shutil.rmtree(out.parent)


def main(sizes: list[int]) -> None:
    # imported here: the submitted job runs this file with `--make` where tests/ is not staged
    from ray.job_submission import JobSubmissionClient

    from tests.heads import start_head

    heads = start_head("disabled")
    address, env = next(heads)
    os.environ.update(env)  # this process is the head's client: the same RAY_AUTH_MODE
    folder = Path(tempfile.mkdtemp(prefix="logs-transport-"))
    try:
        stage(folder)
        client = JobSubmissionClient(address)
        for n in sizes:
            measure(client, n, folder)
    finally:
        shutil.rmtree(folder)
        heads.close()  # runs start_head's finally: the head's process group is stopped

if __name__ == "__main__":
    if sys.argv[1:2] == ["--make"]:
        make_run(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main([int(a) for a in sys.argv[1:]] or [1000, 10000])
