"""The run directory, and the one place that knows what it holds.

    config.yaml      what was asked, as the user wrote it
    manifest.json    the run directory's format, the config as checked, and per session (a run and
                     each --resume of it) the argv, the versions and every worker's device
    schema.json      the type of every column the run's jobs write, and how the report shows each job
    results.jsonl    one row per finished job (base/journal.py); samples.jsonl: every timed rep
    lock             held by the driver writing here; names its pid

The driver creates or reopens a run directory through `RunDir` (every check first, nothing written
before they pass), the sink appends to its journals, the report reads its manifest, schema and rows
through it, each once.
"""
from __future__ import annotations

import dataclasses
import datetime
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa

from base import format1
from base.errors import BadInput
from base.journal import prune_samples, read_journal, read_journal_table
from base.schema import DeviceInfo, column_types, core_columns

CONFIG, MANIFEST, SCHEMA, RESULTS, SAMPLES, LOCK = ("config.yaml", "manifest.json", "schema.json", "results.jsonl",
                                                    "samples.jsonl", "lock")
RUN_FILES = (CONFIG, MANIFEST, SCHEMA, RESULTS, SAMPLES, LOCK)
# the run directory's format, as schema.json and manifest.json give it (`format`): a reader refuses a newer one
SCHEMA_FORMAT = 2


class RunDirError(BadInput):
    """A run directory that cannot be used as asked; the message says why and what to do."""


def config_differences(old: object, new: object, path: str = "config") -> list[str]:
    """Paths where two JSON-like configs differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = dict.fromkeys([*old, *new])
        return [d for k in keys for d in config_differences(old.get(k), new.get(k), f"{path}.{k}")]
    return [] if old == new else [f"{path}: {json.dumps(old)[:60]} -> {json.dumps(new)[:60]}"]


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_whole(path: Path, text: str) -> None:
    """Whole or not at all: a crash mid-write leaves the previous file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._manifest: dict[str, Any] | None = None
        self._lock_file = None

    def file(self, name: str) -> Path:
        return self.path / name

    # --- reading -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """manifest.json, read once."""
        if self._manifest is None:
            self._manifest = self.read_manifest()
        return self._manifest

    def read_manifest(self) -> dict[str, Any]:
        path = self.file(MANIFEST)
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: no such run directory")
        if not path.is_file():
            raise RunDirError(f"{self.path}: no manifest.json here; give a directory that `sdpa-bench run` wrote")
        manifest = read_json(path, "the run directory is damaged")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("sessions"), list):
            raise RunDirError(f"{path}: not a sdpa-bench manifest (no sessions list)")
        check_format(path, manifest.get("format", 1))
        return manifest

    def schema(self) -> dict[str, Any]:
        """schema.json; format 1's tables for a run written before it existed."""
        path = self.file(SCHEMA)
        if not path.is_file():
            return format1.schema()
        schema = read_json(path, "the run directory is damaged")
        if not isinstance(schema, dict) or "columns" not in schema:
            raise RunDirError(f"{path}: not a sdpa-bench schema (no format and columns)")
        check_format(path, schema.get("format"))
        return schema

    def rows(self) -> pa.Table:
        """Every finished job's row, typed by the run's schema."""
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: no such run directory")
        schema = self.schema()
        return read_journal_table(self.file(RESULTS), column_types(schema), core_columns(schema))

    def finished(self) -> set[str]:
        """The ids of the jobs with a row here; each row checked as the report will read it."""
        schema = self.schema()
        return {row["job_id"] for row in read_journal(self.file(RESULTS), column_types(schema), core_columns(schema))}

    def devices(self) -> list[dict[str, Any]]:
        """Every device of every session, the last session's entry winning per (hostname, device)."""
        devices = {}
        for session in self.manifest()["sessions"]:
            for d in session.get("devices", []):
                devices[(d.get("hostname"), d.get("device"))] = d
        return list(devices.values())

    # --- starting a run ------------------------------------------------------------------------
    def check_new(self) -> None:
        """A new run may write here: the directory is new or empty."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"{self.path}: is a file, not a directory; give a new directory with -o")
        present = {p.name for p in self.path.iterdir()} if self.path.is_dir() else set()
        if present & {RESULTS, MANIFEST}:
            raise RunDirError(f"{self.path}: already holds a run; continue it with --resume {self.path} "
                              "or choose a new directory with -o")
        if present:
            raise RunDirError(f"{self.path}: not empty and not a run ({', '.join(sorted(present)[:3])} ...); "
                              "give a new or empty directory with -o")

    def check_resume(self, config: Mapping[str, Any]) -> set[str]:
        """The ids of the jobs already finished here, if `config` (as checked) may continue this run."""
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: no such run directory; --resume takes a directory that "
                              "`sdpa-bench run` wrote")
        self.manifest()  # a run of a newer format is refused before anything is written
        done = self.finished()
        changed = config_differences(self.manifest().get("config", config), config)
        if changed:
            raise RunDirError(f"{self.path}: its config.yaml no longer matches the config its rows were made with "
                              f"({'; '.join(changed[:3])}); restore it, or start a new run with -o")
        return done

    def open_session(self, config: Mapping[str, Any], config_text: str | None, schema: Mapping[str, Any],
                     argv: list[str], versions: Mapping[str, str]) -> None:
        """Write what a session starts with: config.yaml (a new run: `config_text`), the schema and a
        new session in the manifest; a resumed run keeps its first session's config."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.lock()
            if config_text is not None:
                write_whole(self.file(CONFIG), config_text)
            else:
                prune_samples(self.file(SAMPLES), self.finished())
            write_whole(self.file(SCHEMA), json.dumps(schema, indent=1))
            manifest = self.manifest() if self.file(MANIFEST).exists() else {"format": SCHEMA_FORMAT, "config": config,
                                                                              "sessions": []}
            manifest["sessions"].append({"started_at": now(), "argv": argv, "versions": dict(versions),
                                         "devices": [], "startup_s": {}})
            self.write_manifest(manifest)
        except OSError as err:
            raise RunDirError(f"{self.path}: cannot write the run directory: {err.strerror or err}; "
                              "give a writable directory with room on its disk with -o") from None

    def lock(self) -> None:
        """Hold the run directory for this process's lifetime: a second driver is refused."""
        if self._lock_file is not None:
            return
        handle = open(self.file(LOCK), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunDirError(f"{self.path}: another sdpa-bench ({holder}) is writing this run; wait for it to "
                              "end, or stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # --- the manifest during a run -------------------------------------------------------------
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_whole(self.file(MANIFEST), json.dumps(manifest, indent=2))
        self._manifest = manifest

    def record_devices(self, infos: list[DeviceInfo], startup_s: dict[str, float] | None = None) -> None:
        """Set the current session's devices (and how long connecting and starting the workers took)."""
        manifest = self.manifest()
        session = manifest["sessions"][-1]
        session["devices"] = [dataclasses.asdict(i) for i in infos]
        if startup_s is not None:
            session["startup_s"] = startup_s
        self.write_manifest(manifest)

    def update_device(self, info: DeviceInfo) -> None:
        """Replace one device of the current session (a restarted worker: a new pid)."""
        manifest = self.manifest()
        devices = manifest["sessions"][-1]["devices"]
        for i, d in enumerate(devices):
            if (d["hostname"], d["device"], d["node"]) == (info.hostname, info.device, info.node):
                devices[i] = dataclasses.asdict(info)
        self.write_manifest(manifest)


def check_format(path: Path, number: object) -> None:
    """A file of a format this sdpa-bench reads: an int no newer than SCHEMA_FORMAT."""
    if not isinstance(number, int) or isinstance(number, bool):
        raise RunDirError(f"{path}: format {str(number)[:20]!r} is not a format number; the run directory is damaged")
    if number > SCHEMA_FORMAT:
        raise RunDirError(f"{path}: format {number} is newer than this sdpa-bench reads ({SCHEMA_FORMAT}); "
                          "upgrade sdpa-bench to read this run")


def read_json(path: Path, damaged: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunDirError(f"{path}: not readable JSON ({str(err)[:120]}); {damaged}") from None
