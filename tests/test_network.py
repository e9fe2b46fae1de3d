"""An embedded run is private to the machine: every socket it opens to listen on (Ray's GCS,
raylet, workers, dashboard agent) is bound to loopback, never to every interface. Read from the
kernel's listening table (/proc/net/tcp, tcp6): the sockets that appear while the run is up."""
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.test_resume import SLOW, kill_session, start_run, wait_for_rows
import pytest

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

LISTEN = "0A"
VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def listening() -> set[tuple[str, int, str]]:
    """(hex address, port, inode) of every listening TCP socket on the machine."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == LISTEN:
                found.add((address, int(port, 16), fields[9]))
    return found


def sockets_of_session(session: int) -> set[str]:
    """The socket inodes held open by the processes of `session` (the run and the Ray it started):
    other processes on a shared machine open sockets of their own meanwhile."""
    inodes = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int((proc / "stat").read_text().rpartition(")")[2].split()[3]) != session:
                continue
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except (OSError, ValueError):
            continue  # ended meanwhile
        inodes |= {link[len("socket:["):-1] for link in links if link.startswith("socket:[")}
    return inodes


def is_loopback(hex_address: str) -> bool:
    if len(hex_address) == 8:  # IPv4, little-endian: 0100007F is 127.0.0.1
        return hex_address.endswith("7F")
    # IPv6: ::1, or ::ffff:127.x.x.x (IPv4 loopback mapped)
    return hex_address == "00000000000000000000000001000000" or (
        hex_address.startswith("0000000000000000FFFF0000") and hex_address.endswith("7F"))


@pytest.mark.parametrize("user_setting", [None, "1", "true"])
def test_an_embedded_run_listens_on_loopback_only(user_setting, write_config, tmp_path):
    """Whatever RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER the user's environment holds: with 1, Ray 2.60
    put 12 of its 13 listening sockets on every interface; the run forces 0 and says so."""
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    if user_setting is not None:
        env[VARIABLE] = user_setting
    before = listening()
    proc = start_run(write_config(SLOW), tmp_path / "run", env=env)
    try:
        wait_for_rows(tmp_path / "run", 2, proc)
        time.sleep(1)  # the workers and agents are all up by now
        ours = sockets_of_session(proc.pid)
        opened = {s for s in listening() - before if s[2] in ours}
        assert proc.poll() is None  # still running
    finally:
        kill_session(proc)
    assert len(opened) >= 3, opened  # GCS, raylet, a worker at least
    exposed = [s for s in opened if not is_loopback(s[0])]
    assert not exposed, exposed
    said = f"{VARIABLE}={user_setting} ignored: a run without --address keeps Ray on loopback"
    assert (said in proc.stdout.read()) == (user_setting is not None)


def test_an_embedded_ray_that_would_listen_everywhere_is_refused(tmp_path):
    """Ray imported before sdpa-bench could set the variable (a script, a notebook): the run refuses
    and says why, rather than start servers on every interface."""
    script = (f"import os; os.environ['{VARIABLE}'] = '1'; import ray; "
              "from orchestrator.cli import main; raise SystemExit(main(['devices']))")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"Ray was imported with {VARIABLE}=1: an embedded Ray would listen on every interface" in proc.stderr
    assert proc.stderr.count("\n") == 1
