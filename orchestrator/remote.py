"""A submitted run, from any machine that reaches the cluster's job server: `sdpa-bench job
status|logs [--follow]|stop|fetch ID --address ...`, and what a waiting `submit` does.

Every call to the job server is bounded: an address that does not answer is one line within
CONNECT_TIMEOUT_S, never a hang, and an id the server does not know is one line naming it. Logs are
shown without the packed run directory they end with (a single line says where it went); `fetch`
unpacks it, or copies the run directory from the storage the job wrote it to (orchestrator/submit.py).
"""
from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path

from base.errors import BadInput
from orchestrator.submit import BEGIN, END, STOP_GRACE_S, STORAGE_KEY, unpack

CONNECT_TIMEOUT_S = 4.0  # with Python's start, Ray's import and submit's config check (torch): within 10 s
POLL_S = 1.0
AGENT_WAIT_S = 60.0  # a head just started takes some seconds to take jobs
ENDED = ("SUCCEEDED", "FAILED", "STOPPED")


class JobServerError(BadInput):
    """A job server that cannot be reached or asked, or a job it does not know; the message says which."""


def bounded(action, timeout_s: float, what: str):
    """`action()`, or JobServerError if it has not returned within `timeout_s` (requests has no
    timeout of its own: a silent address would hang)."""
    box: dict = {}

    def call():
        try:
            box["value"] = action()
        except BaseException as err:  # carried to the caller's thread, which decides
            box["error"] = err
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise JobServerError(f"{what}: no answer within {timeout_s:g} s; is the address the dashboard's "
                             "(http://HEAD:8265), and is it reachable from here?")
    if "error" in box:
        raise box["error"]
    return box["value"]


def connect(address: str):
    """A JobSubmissionClient for `address`, or one line saying why not."""
    from ray.exceptions import RayError
    from ray.job_submission import JobSubmissionClient

    logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)  # its "WebSocket closed" at each end
    try:
        return bounded(lambda: JobSubmissionClient(address), CONNECT_TIMEOUT_S, address)
    except JobServerError:
        raise  # already one line (a BadInput is a ValueError: it would be wrapped below)
    except (OSError, RuntimeError, ValueError, RayError) as err:
        raise JobServerError(f"{address}: cannot use the Ray job server there: {first_line(err)}; give the "
                             "dashboard's address, e.g. http://HEAD:8265") from None


def first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}"


def ask(client, job_id: str, method: str, *args):
    """client.`method`(job_id, ...), with an unknown id or a failed request as one line."""
    from ray.exceptions import RayError

    try:
        return bounded(lambda: getattr(client, method)(job_id, *args), 60.0, f"{client.get_address()}")
    except JobServerError:
        raise
    except (OSError, RuntimeError, ValueError, RayError) as err:
        if "does not exist" in str(err) or "404" in str(err):
            raise JobServerError(f"{job_id}: no such job on {client.get_address()}; `ray job list --address "
                                 f"{client.get_address()}` lists the jobs there") from None
        raise JobServerError(f"{job_id}: the job server at {client.get_address()} failed: {first_line(err)}") from None


def send_job(client, **submission) -> None:
    """client.submit_job(...), waiting out a head whose job agent is not up yet (Ray answers 500 "No
    available agent" for a few seconds after `ray start`); any other failure is one line."""
    from ray.exceptions import RayError

    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            client.submit_job(**submission)
            return
        except (OSError, RuntimeError, ValueError, RayError) as err:
            if "No available agent" not in str(err) or time.monotonic() > deadline:
                raise JobServerError(f"{client.get_address()}: the job server refused the job: "
                                     f"{first_line(err)}") from None
            time.sleep(2)


def status_of(client, job_id: str) -> str:
    return str(ask(client, job_id, "get_job_status").value)


class LogFilter:
    """Passes a job's log through line by line, cutting the packed run directory out of it."""

    def __init__(self, write):
        self.write, self.partial, self.packed = write, "", False

    def feed(self, text: str) -> None:
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            self.line(line)

    def line(self, line: str) -> None:
        if line.strip() == BEGIN:
            self.packed = True
            self.write("sdpa-bench: (the run directory follows, packed; `sdpa-bench job fetch` unpacks it)\n")
        elif line.strip() == END:
            self.packed = False
        elif not self.packed:
            self.write(line + "\n")

    def close(self) -> None:
        if self.partial and not self.packed:
            self.write(self.partial + "\n")
        self.partial = ""


def echo(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def follow(client, job_id: str, timeout_s: float | None = None, write=echo) -> str:
    """Print the job's log as it grows until the job ends; returns its final status. Past
    `timeout_s` the job is stopped (and given its grace to report)."""
    status_of(client, job_id)  # an unknown id: one line, before any stream is opened
    logs = LogFilter(write)

    async def tail():
        async for chunk in client.tail_job_logs(job_id):
            logs.feed(chunk)
    try:
        asyncio.run(asyncio.wait_for(tail(), timeout_s))
    except asyncio.TimeoutError:
        logs.close()
        client.stop_job(job_id)
        settle(client, job_id, STOP_GRACE_S + 30)
        return f"TIMEOUT after {timeout_s:g} s (job stopped)"
    except (OSError, RuntimeError) as err:  # the stream broke (a network blip, a restarted dashboard)
        raise JobServerError(f"{job_id}: the log stream from {client.get_address()} broke ({first_line(err)}); "
                             f"the job goes on: `sdpa-bench job logs {job_id} --address {client.get_address()} "
                             "--follow` picks it up") from None
    logs.close()
    return settle(client, job_id, 60)


def settle(client, job_id: str, timeout_s: float) -> str:
    """The job's status once it has ended (the log's end comes a moment before), or as it is at `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    status = status_of(client, job_id)
    while status not in ENDED and time.monotonic() < deadline:
        time.sleep(POLL_S)
        status = status_of(client, job_id)
    return status


def last_progress(logs: str) -> str:
    """The job's latest summary line (orchestrator/progress.py), if it printed one."""
    head = logs[:logs.rfind(BEGIN)] if BEGIN in logs else logs
    return next((line for line in reversed(head.splitlines()) if line.startswith("sdpa-bench: ") and " done (" in line),
                "")


def bring_home(client, job_id: str, run_dir: Path, status: str) -> bool:
    """The ended job's run directory into `run_dir`: from its storage if it wrote there, else cut
    out of its logs; False (and the log's end) if it is in neither."""
    from orchestrator.storage import fetch_tree

    storage = (ask(client, job_id, "get_job_info").metadata or {}).get(STORAGE_KEY, "")
    if storage:
        fetch_tree(storage, job_id, run_dir)
    elif not unpack(logs := ask(client, job_id, "get_job_logs"), run_dir):
        print(f"sdpa-bench: job {job_id} ended {status} without a run directory; its log ends:\n{logs[-3000:]}",
              file=sys.stderr)
        return False
    print(f"sdpa-bench: job {job_id} {status}; run directory in {run_dir}, report {run_dir / 'report.md'}")
    return True


# --- the `job` commands ---------------------------------------------------------------------

def job_status(address: str, job_id: str) -> int:
    client = connect(address)
    info = ask(client, job_id, "get_job_info")
    status = str(info.status.value)
    print(f"{job_id}: {status}" + (f" ({info.message})" if info.message else ""))
    if status not in ENDED:
        print(last_progress(ask(client, job_id, "get_job_logs")) or "sdpa-bench: no progress line yet")
    return 0


def job_logs(address: str, job_id: str, follow_it: bool) -> int:
    client = connect(address)
    if follow_it:
        print(f"sdpa-bench: job {job_id} ended {follow(client, job_id)}")
        return 0
    logs = LogFilter(echo)
    logs.feed(ask(client, job_id, "get_job_logs"))
    logs.close()
    return 0


def job_stop(address: str, job_id: str) -> int:
    """Stop the job and wait while its driver reports what finished (its grace: STOP_GRACE_S)."""
    client = connect(address)
    if (status := status_of(client, job_id)) in ENDED:
        print(f"sdpa-bench: job {job_id} had already ended: {status}")
        return 0
    ask(client, job_id, "stop_job")
    print(f"sdpa-bench: stopping job {job_id}; its driver reports what finished (up to {STOP_GRACE_S} s)", flush=True)
    status = settle(client, job_id, STOP_GRACE_S + 30)
    print(f"sdpa-bench: job {job_id} {status}; `sdpa-bench job fetch {job_id} --address {address} -o RUN_DIR` "
          "brings its run directory home")
    return 0 if status in ENDED else 1


def job_fetch(address: str, job_id: str, run_dir: Path) -> int:
    client = connect(address)
    status = status_of(client, job_id)
    if status not in ENDED:
        raise JobServerError(f"{job_id}: still {status}; its run directory comes when it ends: follow it with "
                             f"`sdpa-bench job logs {job_id} --address {address} --follow`, or stop it with "
                             f"`sdpa-bench job stop {job_id} --address {address}`")
    return 0 if bring_home(client, job_id, run_dir, status) else 1
