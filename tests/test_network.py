"""An embedded run is private to the machine: every socket it opens to listen on (Ray's GCS,
raylet, workers, dashboard agent) is bound to loopback, never to every interface. Read from the
kernel's listening table (/proc/net/tcp, tcp6): the sockets that appear while the run is up."""
import time
from pathlib import Path

from tests.test_resume import SLOW, kill_session, start_run, wait_for_rows
import pytest

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

LISTEN = "0A"


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


def is_loopback(hex_address: str) -> bool:
    if len(hex_address) == 8:  # IPv4, little-endian: 0100007F is 127.0.0.1
        return hex_address.endswith("7F")
    # IPv6: ::1, or ::ffff:127.x.x.x (IPv4 loopback mapped)
    return hex_address == "00000000000000000000000001000000" or (
        hex_address.startswith("0000000000000000FFFF0000") and hex_address.endswith("7F"))


def test_an_embedded_run_listens_on_loopback_only(write_config, tmp_path):
    before = listening()
    proc = start_run(write_config(SLOW), tmp_path / "run")
    try:
        wait_for_rows(tmp_path / "run", 2, proc)
        time.sleep(1)  # the workers and agents are all up by now
        opened = listening() - before
        assert proc.poll() is None  # still running
    finally:
        kill_session(proc)
    assert len(opened) >= 3, opened  # GCS, raylet, a worker at least
    exposed = [s for s in opened if not is_loopback(s[0])]
    assert not exposed, exposed
