"""Where sdpa-bench writes what it makes of runs (a report, a compare table), and the one rule for
it: never over, or beside, anything sdpa-bench did not write.

A folder that sdpa-bench writes outputs into keeps MARKER, the list of every file written there and
by which command. A folder that holds anything else (a user's notes, a figure of their own in
plots/) is refused in one line before anything is written. A run directory's own files count as
sdpa-bench's (base/rundir.py), and so does the report an older sdpa-bench wrote before the marker
existed (in a run directory, or under a report.md it titled).

Outputs are written whole or not at all: into a staging folder inside the destination first (the
same disk, so a rename moves them), then renamed into place with Ctrl-C and SIGTERM held for the
moment that takes. A full disk or a second Ctrl-C while writing leaves the previous outputs as
they were; a folder (plots/) is replaced only once its new files are all written.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import threading
from pathlib import Path
from typing import Iterator

from base.errors import BadInput
from base.rundir import MANIFEST, RUN_FILES

MARKER = "sdpa-bench-outputs.json"
STAGING = ".sdpa-bench-staging"
# what an sdpa-bench from before the marker wrote beside a run's files or under its report.md
LEGACY = re.compile(r"(report\.md|report\.html|results\.csv|results\.parquet|compare\.csv|"
                    r"plots/((speed|tflops|pct_of_peak)_\d+|speedup|correctness)\.png)")
OWN_TITLE = "# sdpa-bench report"


class OutputError(BadInput):
    """An output that would destroy or sit among what sdpa-bench did not write, or cannot be written."""


def marked(folder: Path) -> dict[str, str]:
    """Each file the marker lists (its path under `folder`) -> the command that wrote it."""
    try:
        files = json.loads((folder / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {k: v for k, v in files.items() if isinstance(v, str)} if isinstance(files, dict) else {}


def legacy(folder: Path) -> bool:
    """Whether an older sdpa-bench may have written a report here without a marker."""
    if (folder / MANIFEST).is_file():
        return True
    try:
        with open(folder / "report.md", encoding="utf-8") as f:
            return f.readline().startswith(OWN_TITLE)
    except (OSError, UnicodeDecodeError):
        return False


def files_under(folder: Path) -> Iterator[str]:
    """Every file and link under `folder`, as paths relative to it, in order, links not followed.
    Folders themselves are no one's: only plots/, all of whose files are sdpa-bench's, is replaced."""
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        links = [d for d in dirs if os.path.islink(os.path.join(top, d))]
        for name in sorted(files + links):
            yield Path(top, name).relative_to(folder).as_posix()


def foreign(folder: Path) -> Iterator[str]:
    """The files under `folder` that sdpa-bench did not write: neither listed by the marker, nor a
    run's own file, nor an older sdpa-bench's report file."""
    ours, old, run = set(marked(folder)), legacy(folder), (folder / MANIFEST).is_file()
    return (name for name in files_under(folder) if not (
        name in ours or name.split("/")[0] in (MARKER, STAGING) or (old and LEGACY.fullmatch(name))
        or (run and name.removesuffix(".tmp") in RUN_FILES)))


def check_folder(folder: Path) -> None:
    """Outputs may go into `folder`: it is new, or holds only what sdpa-bench wrote."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a directory; give a new or empty directory with -o")
    bad = list(itertools.islice(foreign(folder), 4)) if folder.is_dir() else []  # a home folder: stop early
    if bad:
        listed = ", ".join(bad[:3]) + (" ..." if len(bad) > 3 else "")
        raise OutputError(f"{folder}: holds files sdpa-bench did not write ({listed}); give a new or empty "
                          "directory with -o, or move them away")


def check_file(path: Path, command: str) -> None:
    """`command` may write the file `path`: it is new, or that command wrote it."""
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give the path of a file to write with -o")
    if not (path.exists() or path.is_symlink()):
        return
    writer = marked(path.parent).get(path.name) or (
        "compare" if path.name == "compare.csv" and legacy(path.parent) else "")
    if writer != command:
        raise OutputError(f"{path}: exists and sdpa-bench {command} did not write it; give a new file with -o")


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block ends, then act as they would have."""
    caught: list[int] = []
    kinds = (signal.SIGINT, signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread runs signal handlers, and only it may change them
        return
    previous = {s: signal.signal(s, lambda number, frame: caught.append(number)) for s in kinds}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        for number in caught[:1]:
            signal.raise_signal(number)


class Staged:
    """A staging folder inside `folder`: write outputs under `path`, then `commit()` moves each of
    its top-level entries into place, a folder replacing the old one whole. `optional` names the
    top-level files this command writes only at times (a report's trend.csv): one the command wrote
    before and not this time is removed, so no output outlives the data it came from. Left without
    a commit (an error, a Ctrl-C), the staging folder is removed and `folder` is as it was."""

    def __init__(self, folder: Path, command: str, optional: tuple[str, ...] = ()):
        self.folder, self.command, self.path, self.optional = folder, command, folder / STAGING, optional

    def __enter__(self) -> Staged:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.path, ignore_errors=True)  # what a killed writer left
            self.path.mkdir()
        except OSError as err:
            raise OutputError(f"{self.folder}: cannot write there: {err.strerror or err}") from None
        except BaseException:  # a Ctrl-C here: __exit__ will not run
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return self

    def __exit__(self, kind, err, tb) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if isinstance(err, OSError):
            raise OutputError(f"{self.folder}: cannot write the {self.command} output: {err.strerror or err}; "
                              "what was there before is as it was") from None

    def commit(self) -> None:
        tops = sorted(p.name for p in self.path.iterdir())
        new = {p.relative_to(self.path).as_posix(): self.command for p in self.path.rglob("*") if p.is_file()}
        old = marked(self.folder)
        stale = [name for name in self.optional if name not in tops and old.get(name) == self.command]
        kept = {k: v for k, v in old.items()
                if k not in stale and not any(k == t or k.startswith(t + "/") for t in tops)}
        with signals_held():
            self.write_marker({**old, **new})  # first listing both: a kill mid-commit leaves nothing unlisted
            trash = self.path / ".replaced"
            trash.mkdir()
            for top in tops:
                if (self.folder / top).exists():
                    (self.folder / top).rename(trash / top)
                (self.path / top).rename(self.folder / top)
            for name in stale:
                (self.folder / name).unlink(missing_ok=True)
            self.write_marker({**kept, **new})

    def write_marker(self, files: dict[str, str]) -> None:
        tmp = self.path / MARKER
        tmp.write_text(json.dumps({"written_by": "sdpa-bench", "files": dict(sorted(files.items()))}, indent=1),
                       encoding="utf-8")
        tmp.replace(self.folder / MARKER)
