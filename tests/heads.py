"""A local Ray head with the dashboard and its job API, as `ray start --head` makes one.

Started as `ray start --head --block` in a session of its own, with a temp dir of its own, and
stopped through that session's process group: `ray stop` would stop every Ray on the machine,
other people's runs included.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def head_env(auth_mode: str) -> dict:
    """The environment of the head and of every client of it: the same RAY_AUTH_MODE (and token)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "RAY_AUTH_MODE": auth_mode}
    if auth_mode == "token":
        env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    return env


def wait_for_dashboard(address: str, env: dict, head: subprocess.Popen, timeout_s: float = 120) -> None:
    probe = f"from ray.job_submission import JobSubmissionClient as C; C({address!r})"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert head.poll() is None, "ray start --head exited"
        if subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=60).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"no job server at {address} after {timeout_s} s")


def start_head(auth_mode: str = "disabled", cpus: int = 2):
    """Yields (dashboard address, env), then stops the head."""
    import ray

    ray.shutdown()  # this process's own Ray, if a test before started one
    env, dashboard = head_env(auth_mode), free_port()
    head = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={free_port()}", f"--num-cpus={cpus}",
                             "--num-gpus=0", "--node-ip-address=127.0.0.1", "--include-dashboard=true",
                             "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--disable-usage-stats",
                             f"--temp-dir={tempfile.mkdtemp(prefix='rh', dir='/tmp')}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        wait_for_dashboard(address, env, head)
        yield address, env
    finally:
        stop(head)


def stop(head: subprocess.Popen) -> None:
    """SIGTERM to the head's process group, SIGKILL to what is left 5 s later (its drain would take 30)."""
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
