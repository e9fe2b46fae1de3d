"""`sdpa-bench submit`: run a sweep as a Ray job on a remote cluster, bring its run directory home.

The job's working directory is a staging folder holding this project's four packages and the
config, so the cluster needs only the dependencies (torch, Ray, PyYAML, pandas, pyarrow), not
this project. The run directory comes back through the job's own logs: after the run, the job
prints it as a base64 tar.gz between two marker lines (`sdpa-bench pack`), and the client cuts it
out of the logs. That works on a stock Ray cluster, with no shared filesystem or object store
access from the client.
"""
from __future__ import annotations

import base64
import binascii
import shutil
import sys
import tempfile
import time
from pathlib import Path

from base import archive
from orchestrator.address import AddressError, check_dashboard

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "----- sdpa-bench run directory (tar.gz, base64) -----", "----- end of run directory -----"
ENTRYPOINT = ("python -m orchestrator run -c config.yaml -o run --address auto; code=$?; "
              "python -m orchestrator pack run; exit $code")
POLL_S = 2.0


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


def wait(client, job_id: str, timeout_s: float) -> str:
    """Poll the job until it ends; returns its final status."""
    from ray.job_submission import JobStatus

    deadline = time.monotonic() + timeout_s
    status = client.get_job_status(job_id)
    while status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
        if time.monotonic() > deadline:
            client.stop_job(job_id)
            return f"TIMEOUT after {timeout_s:g} s (job stopped)"
        time.sleep(POLL_S)
        status = client.get_job_status(job_id)
    return str(status.value)


def job_api(address: str, call, *args, **kwargs):
    """`call(*args, **kwargs)` against the job API at `address`; what it raises on a wrong or a
    refusing address (no job API there, a missing token) is one line."""
    try:
        return call(*args, **kwargs)
    except (ConnectionError, RuntimeError, ValueError, OSError) as err:
        raise AddressError(f"--address {address}: the job API refused: {' '.join(str(err).split())[:300]}") from None


def submit(address: str, config_path: Path, run_dir: Path, timeout_s: float) -> int:
    from ray.job_submission import JobSubmissionClient

    check_dashboard(address)
    client = job_api(address, JobSubmissionClient, address)
    folder = stage(config_path)
    try:
        job_id = job_api(address, client.submit_job, entrypoint=ENTRYPOINT, runtime_env={"working_dir": str(folder)})
    finally:
        shutil.rmtree(folder)
    print(f"sdpa-bench: submitted job {job_id} to {address}", flush=True)
    status = wait(client, job_id, timeout_s)
    logs = client.get_job_logs(job_id)
    if not unpack(logs, run_dir):
        print(f"sdpa-bench: job {job_id} ended {status} without a run directory; its log ends:\n{logs[-3000:]}",
              file=sys.stderr)
        return 1
    print(f"sdpa-bench: job {job_id} {status}; run directory in {run_dir}, report {run_dir / 'report.md'}")
    return 0 if status == "SUCCEEDED" else 1
