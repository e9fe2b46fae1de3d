"""A wrong --address is one line, exit 2, in seconds, not a hang: a real dead port (bound, then
closed) and a real plain HTTP server, for `devices`, `run` and `submit`."""
import http.server
import socket
import threading

import pytest

from tests.conftest import run_cli
from tests.test_submit import plain_head  # noqa: F401 - the fixture: a real `ray start --head`

pytestmark = pytest.mark.integration  # every test here starts a subprocess

HANG = 60  # the subprocesses' limit: a hang fails the test (Ray's own wait was over 200 s)


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on return: nothing listens there


class NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the standard library's name
        self.send_error(404)


@pytest.fixture
def http_server():
    """A plain HTTP server (the standard library's), answering 404 to everything, on the address
    Ray connects to for 127.0.0.1 (it takes the node's own address for loopback: so do the checks)."""
    from ray._private.services import resolve_ip_for_localhost

    server = http.server.ThreadingHTTPServer((resolve_ip_for_localhost("127.0.0.1"), 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def one_line(proc, message: str) -> None:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_devices_at_a_dead_port_or_a_plain_http_server(http_server):
    port = dead_port()
    one_line(run_cli("devices", "--address", f"127.0.0.1:{port}", timeout=HANG),
             f"--address 127.0.0.1:{port}: nothing answers at ")
    assert f":{port} (Connection refused)" in run_cli("devices", "--address", f"localhost:{port}", timeout=HANG).stderr
    one_line(run_cli("devices", "--address", f"127.0.0.1:{http_server}", timeout=HANG),
             f":{http_server} answers, but not as a Ray cluster (no gRPC)")
    one_line(run_cli("devices", "--address", f"http://127.0.0.1:{http_server}", timeout=HANG),
             "that is a dashboard's address (what `submit` takes)")


def test_run_at_a_plain_http_server_writes_nothing(http_server, write_config, tmp_path):
    config = write_config("sweeps: [{name: s, grid: {batch: [1], heads: [2], seq_len: [16], head_dim: [8], "
                          "dtype: [float32], backend: [math]}}]\n")
    one_line(run_cli("run", "--address", f"127.0.0.1:{http_server}", "-c", str(config), "-o", str(tmp_path / "run"),
                     timeout=HANG), "answers, but not as a Ray cluster")
    assert not (tmp_path / "run").exists()


def test_submit_to_a_dead_port_a_plain_http_server_or_no_url(http_server, write_config, tmp_path):
    config = write_config("sweeps: [{name: s, grid: {batch: [1], heads: [2], seq_len: [16], head_dim: [8], "
                          "dtype: [float32], backend: [math]}}]\n")
    port = dead_port()
    from ray._private.services import resolve_ip_for_localhost

    host = resolve_ip_for_localhost("127.0.0.1")
    for address, message in ((f"http://127.0.0.1:{port}", f"nothing answers at 127.0.0.1:{port} (Connection refused)"),
                             (f"http://{host}:{http_server}", "cannot use the Ray job server there: RuntimeError: Version check returned 404"),
                             (f"127.0.0.1:{http_server}", "submit takes the dashboard's address, http://HEAD:8265")):
        one_line(run_cli("submit", "--address", address, "-c", str(config), "-o", str(tmp_path / "home"),
                         timeout=HANG), message)
    assert not (tmp_path / "home").exists()


def test_a_real_cluster_passes_the_check(plain_head):  # noqa: F811
    """The same check lets a real `ray start --head` through: its GCS speaks gRPC."""
    _, env = plain_head
    proc = run_cli("devices", "--address", "auto", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1 device(s) on 1 node(s)" in proc.stdout
