"""manifest.json: the run's config and, per session (a run and each --resume of it), the argv,
the versions and every worker's device. Written by the driver, read by the report."""
from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

from base.errors import BadInput
from base.schema import DeviceInfo


class ManifestError(BadInput):
    """A run directory whose manifest is missing or unreadable; the message says which."""


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise ManifestError(f"{run_dir}: no such run directory")
    if not path.is_file():
        raise ManifestError(f"{run_dir}: no manifest.json here; give a directory that `sdpa-bench run` wrote")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"{path}: not readable JSON ({err}); the run directory is damaged") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sessions"), list):
        raise ManifestError(f"{path}: not a sdpa-bench manifest (no sessions list)")
    return manifest


def manifest_devices(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every device of every session, the last session's entry winning per (hostname, device)."""
    devices = {}
    for session in manifest["sessions"]:
        for d in session.get("devices", []):
            devices[(d.get("hostname"), d.get("device"))] = d
    return list(devices.values())


def start_session(run_dir: Path, config: dict[str, Any], argv: list[str], versions: dict[str, str]) -> None:
    """Open a session: the config (the first session's stays; resume refuses a changed one)."""
    path = run_dir / "manifest.json"
    manifest = read_manifest(run_dir) if path.exists() else {"config": config, "sessions": []}
    manifest["sessions"].append({"started_at": now(), "argv": argv, "versions": versions, "devices": [],
                                 "startup_s": {}})
    write(path, manifest)


def record_devices(run_dir: Path, infos: list[DeviceInfo], startup_s: dict[str, float] | None = None) -> None:
    """Set the current session's devices (again after a worker restart: its pid changed)."""
    manifest = read_manifest(run_dir)
    session = manifest["sessions"][-1]
    session["devices"] = [dataclasses.asdict(i) for i in infos]
    if startup_s is not None:
        session["startup_s"] = startup_s  # connecting to Ray, then starting the workers
    write(run_dir / "manifest.json", manifest)


def update_device(run_dir: Path, info: DeviceInfo) -> None:
    """Replace one device of the current session (a restarted worker: a new pid)."""
    manifest = read_manifest(run_dir)
    devices = manifest["sessions"][-1]["devices"]
    same = [i for i, d in enumerate(devices) if (d["hostname"], d["device"], d["node"]) == (info.hostname, info.device,
                                                                                           info.node)]
    for i in same:
        devices[i] = dataclasses.asdict(info)
    write(run_dir / "manifest.json", manifest)


def write(path: Path, manifest: dict[str, Any]) -> None:
    """Whole or not at all: a crash mid-write leaves the previous manifest."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(path)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
