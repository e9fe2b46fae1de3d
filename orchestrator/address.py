"""Is anything there? An `--address` is checked in seconds before Ray is asked to use it.

Ray's own attempts wait for minutes: `ray.init` on a dead port retried for over 200 s with no
output, and a plain HTTP server on the port hung it as long; `JobSubmissionClient` raised a
traceback. So `run`/`devices --address` first connect to the cluster's GCS port themselves and
check that it speaks HTTP/2 (gRPC, what the GCS serves) by sending HTTP/2's connection preface
and reading the server's first frame; `submit` checks its http(s) address takes a connection.
Each failure is one line, exit 2, in at most PROBE_TIMEOUT_S per step.
"""
from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from base.errors import BadInput

PROBE_TIMEOUT_S = 5.0
# HTTP/2's client connection preface, then an empty SETTINGS frame; a gRPC server answers with
# a SETTINGS frame of its own (frame type 4, the fourth byte of its 9-byte header)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
SETTINGS = 4


class AddressError(BadInput):
    """Nothing, or nothing of Ray's, answers at the address given."""


def host_port(address: str, default_port: int | None = None) -> tuple[str, int]:
    """(host, port) of `host:port`, `[v6]:port` or a URL; AddressError when it has no port."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    try:
        port = parts.port or default_port
    except ValueError:  # not a number, or past 65535
        port = None
    if not parts.hostname or port is None:
        raise AddressError(f"--address {address}: give HOST:PORT (for a cluster, its GCS port: HEAD:6379), or auto")
    return parts.hostname, port


def connect(address: str, host: str, port: int) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S)
    except OSError as err:
        why = "no answer" if isinstance(err, socket.timeout) else (err.strerror or str(err))
        raise AddressError(f"--address {address}: nothing answers at {host}:{port} ({why}); check the address, "
                           "and that the cluster is up") from None


def speaks_http2(sock: socket.socket) -> bool:
    """Whether the server at the other end answers HTTP/2's preface with a SETTINGS frame."""
    try:
        sock.sendall(PREFACE)
        header = b""
        while len(header) < 9:
            chunk = sock.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:
        return False
    return header[3] == SETTINGS


def gcs_address(address: str) -> str:
    """The host:port Ray would connect to for `address` (auto: the cluster `ray start` left here)."""
    if address.startswith(("http://", "https://")):
        raise AddressError(f"--address {address}: that is a dashboard's address (what `submit` takes); give the "
                           "cluster's GCS address (HEAD:6379), or auto")
    if address.startswith("ray://"):
        return address.removeprefix("ray://")
    from ray._private.services import canonicalize_bootstrap_address_or_die

    try:
        return canonicalize_bootstrap_address_or_die(address)
    except (ConnectionError, ValueError) as err:
        raise AddressError(f"--address {address}: no Ray cluster found ({' '.join(str(err).split())[:160]}); "
                           "start one with `ray start --head`, or give HEAD:6379") from None


def check_cluster(address: str) -> None:
    """A Ray cluster's GCS (or a Ray Client server) answers at `address`, or AddressError."""
    gcs = gcs_address(address)
    host, port = host_port(gcs)
    with connect(address, host, port) as sock:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return  # TLS first: a cleartext preface would not be answered
        if not speaks_http2(sock):
            raise AddressError(f"--address {address}: {host}:{port} answers, but not as a Ray cluster (no gRPC); "
                               "give the cluster's GCS port (HEAD:6379), or auto")


def check_dashboard(address: str) -> None:
    """`submit`'s address is an http(s) URL whose host takes a connection, or AddressError."""
    if not address.startswith(("http://", "https://")):
        raise AddressError(f"--address {address}: submit takes the dashboard's address, http://HEAD:8265")
    host, port = host_port(address, 443 if address.startswith("https://") else 80)
    connect(address, host, port).close()
