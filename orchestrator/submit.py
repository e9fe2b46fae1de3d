"""`sdpa-bench submit`: run a sweep as a Ray job on a remote cluster, bring its run directory home.

The job's working directory is a staging folder holding this project's four packages and the
config, so the cluster needs only the dependencies (torch, Ray, PyYAML, pandas, pyarrow), not
this project. The run directory comes back through the job's own logs: after the run, the job
prints it as a base64 tar.gz between two marker lines (`sdpa-bench pack`), and the client cuts it
out of the logs. That works on a stock Ray cluster, with no shared filesystem or object store
access from the client. Past some thousand jobs the logs carry tens of MiB (docs/cluster.md):
with `--storage` the job copies its run directory to a path or pyarrow.fs URI that both sides
reach instead, and the client copies it from there.

A waiting `submit` streams the job's progress; `--no-wait` prints the submission id and leaves,
and `sdpa-bench job ...` (orchestrator/remote.py) follows, stops and fetches it later. Ray's
`stop` sends SIGTERM, then SIGKILL after RAY_JOB_STOP_WAIT_TIME_S (3 s unless the job's runtime
env says otherwise): the job is given STOP_GRACE_S, time to write the report of what finished and
send its run directory.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import secrets
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from base import archive
from orchestrator.address import check_dashboard

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "----- sdpa-bench run directory (tar.gz, base64) -----", "----- end of run directory -----"
STOP_GRACE_S = 120  # seconds between `job stop`'s SIGTERM and Ray's SIGKILL: the report, then the run directory sent
STORAGE_KEY = "sdpa_bench_storage"  # the job's metadata: where its run directory goes ("" for its logs)


def pack(run_dir: Path) -> None:
    """Print the run directory `run_dir` as a base64 tar.gz between the two marker lines."""
    data = archive.pack(run_dir)
    print(BEGIN)
    encoded = base64.b64encode(data).decode()
    print("\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)))
    print(END, flush=True)


def unpack(logs: str, run_dir: Path) -> bool:
    """Cut the packed run directory out of a job's logs into `run_dir`; False if it is not there.
    What a cluster sends is untrusted: base/archive.py checks every member before writing one."""
    start, end = logs.rfind(BEGIN), logs.rfind(END)
    if start < 0 or end < start:
        return False
    try:
        data = base64.b64decode("".join(logs[start + len(BEGIN):end].split()), validate=True)
    except binascii.Error as err:
        raise archive.ArchiveError(f"the returned run directory is not base64: {err}") from None
    run_dir.mkdir(parents=True, exist_ok=True)
    archive.extract(data, run_dir)
    return True


def stage(config_path: Path) -> Path:
    """A folder with the packages and the config: the job's working directory."""
    folder = Path(tempfile.mkdtemp(prefix="sdpa-bench-submit-"))
    for package in ("base", "orchestrator", "jobs", "analysis"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(config_path, folder / "config.yaml")
    return folder


def new_submission_id() -> str:
    """Names the job and, in storage, its run directory: the date, then enough to be unique."""
    return f"sdpa-bench-{datetime.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def storage_path(storage: str, job_id: str) -> str:
    return f"{storage.rstrip('/')}/{job_id}"


def entrypoint(job_id: str, storage: str, verbose: bool, every_s: float) -> str:
    """One process that runs, then packs (or copies) what it wrote, stopped or not. The run
    directory is named by the job: jobs of the same config share one working directory."""
    args = ["python", "-m", "orchestrator", "run", "-c", "config.yaml", "-o", f"runs/{job_id}", "--address", "auto",
            "--progress-every", f"{every_s:g}"]
    args += ["--copy-to", storage_path(storage, job_id)] if storage else ["--pack"]
    return shlex.join(args + (["-v"] if verbose else []))


def submit(address: str, config_path: Path, run_dir: Path, timeout_s: float, wait: bool = True,
           storage: str = "", verbose: bool = False, every_s: float = 15.0) -> int:
    from orchestrator.remote import bring_home, connect, follow, send_job

    check_dashboard(address)  # an http(s) URL whose host takes a connection, in seconds
    client = connect(address)
    folder, job_id = stage(config_path), new_submission_id()
    try:
        send_job(client, entrypoint=entrypoint(job_id, storage, verbose, every_s), submission_id=job_id,
                 runtime_env={"working_dir": str(folder), "env_vars": {"RAY_JOB_STOP_WAIT_TIME_S": str(STOP_GRACE_S)}},
                 metadata={STORAGE_KEY: storage})
    finally:
        shutil.rmtree(folder)
    if not wait:
        print(job_id)
        print(f"sdpa-bench: submitted; follow it with `sdpa-bench job logs {job_id} --address {address} --follow`, "
              f"bring its run directory home with `sdpa-bench job fetch {job_id} --address {address} -o RUN_DIR`",
              file=sys.stderr)
        return 0
    print(f"sdpa-bench: submitted job {job_id} to {address}; its progress follows "
          "(Ctrl-C leaves it running)", flush=True)
    try:
        status = follow(client, job_id, timeout_s)
    except KeyboardInterrupt:
        print(f"\nsdpa-bench: left job {job_id} running; `sdpa-bench job fetch {job_id} --address {address} "
              f"-o {run_dir}` brings its run directory home once it ends", file=sys.stderr)
        return 130
    return 0 if bring_home(client, job_id, run_dir, status) and status == "SUCCEEDED" else 1
