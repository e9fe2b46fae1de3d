"""A run directory as a tar.gz and back: what a submitted job prints, what `submit` unpacks.

What comes back from a cluster is untrusted input. A run directory holds only regular files and
folders, so unpacking takes nothing else (no symlink, hard link, device or fifo), checks every
path itself (relative, no `..`, inside the destination) and bounds the members' count and total
size from their headers, all before it writes a byte. It never relies on tarfile's extraction
filters: Pythons before 3.11.13, 3.12.11 and 3.13.4 let a crafted chain of symlinks past
`filter="data"` (CVE-2025-4517), and those before 3.10.12 have no filter at all.
"""
from __future__ import annotations

import io
import os
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from base.errors import BadInput
from base.rundir import RunDir

MAX_BYTES = 8 * 2**30  # a run directory of 100,000 jobs with their samples is well under this
MAX_MEMBERS = 100_000  # it holds a dozen files, and its plots


class ArchiveError(BadInput):
    """A packed run directory that cannot be unpacked as it is; nothing was written."""


def plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Pack files and folders only: a link in a run directory would not come back."""
    return info if info.isreg() or info.isdir() else None


def pack(run_dir: Path) -> bytes:
    """`run_dir` as tar.gz bytes; a folder that is not a run directory is refused."""
    RunDir(run_dir).manifest()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(run_dir, arcname=".", filter=plain)
    return buf.getvalue()


def member_path(info: tarfile.TarInfo) -> PurePosixPath:
    """The member's path under the destination: relative, without `..`; a file or a folder."""
    kind = "a regular file" if info.isreg() else "a folder" if info.isdir() else ""
    if not kind:
        what = ("a symlink" if info.issym() else "a hard link" if info.islnk() else
                "a device or a fifo" if info.ischr() or info.isblk() or info.isfifo() else "not a file")
        raise ArchiveError(f"the returned run directory holds {info.name[:80]!r}, {what}; a run directory holds "
                           "only files and folders: nothing was unpacked")
    path = PurePosixPath(info.name)
    if path.is_absolute() or ".." in path.parts or "\\" in info.name:
        raise ArchiveError(f"the returned run directory holds the path {info.name[:80]!r}, outside itself: "
                           "nothing was unpacked")
    return PurePosixPath(*[p for p in path.parts if p != "."])


def plan(tar: tarfile.TarFile, max_bytes: int) -> list[tuple[tarfile.TarInfo, PurePosixPath]]:
    """Every member with its checked path, from the headers alone; refused past the bounds."""
    members, total = [], 0
    for info in tar:
        members.append((info, member_path(info)))
        total += info.size
        if total > max_bytes or len(members) > MAX_MEMBERS:
            raise ArchiveError(f"the returned run directory holds more than {max_bytes / 2**30:g} GiB or "
                               f"{MAX_MEMBERS} files; nothing was unpacked")
    return members


def write_member(tar: tarfile.TarFile, info: tarfile.TarInfo, target: Path) -> None:
    """A folder, or a new file (never over one, never through a link) with the member's bytes."""
    if info.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out, tar.extractfile(info) as data:
        shutil.copyfileobj(data, out)


def extract(data: bytes, run_dir: Path, max_bytes: int = MAX_BYTES) -> None:
    """Unpack the tar.gz `data` into the new or empty folder `run_dir`, checked as above."""
    root = run_dir.resolve()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for info, path in plan(tar, max_bytes):
                target = root.joinpath(*path.parts)
                if not target.resolve().is_relative_to(root):
                    raise ArchiveError(f"the returned run directory holds {info.name[:80]!r}, outside itself")
                write_member(tar, info, target)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ArchiveError(f"{run_dir}: the returned run directory cannot be unpacked: "
                           f"{getattr(err, 'strerror', None) or err}") from None
