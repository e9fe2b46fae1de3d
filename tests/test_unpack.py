"""A run directory that comes back from a cluster is untrusted: `submit`'s unpack takes regular files
and folders only, checks every path itself and bounds the size, whatever the Python. Each case is a
real crafted tar.gz in a job's logs: the CVE-2025-4517 symlink chain (which gets past
`extractall(filter="data")` on this Python 3.11.7), `..` and absolute paths, links, a fifo, and a
member whose header claims 9 GiB. `pack` packs run directories only, and only their files."""
import base64
import gzip
import io
import os
import tarfile

import pytest

from base.archive import ArchiveError, pack
from orchestrator.submit import BEGIN, END, unpack
from tests.conftest import synthetic_row, write_run
from tests.test_journal import refused


def logs_of(data: bytes) -> str:
    """A job's logs with `data` packed between the markers, as `sdpa-bench pack` prints it."""
    return f"job output\n{BEGIN}\n{base64.b64encode(data).decode()}\n{END}\n"


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes | None = None, size: int = 0):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.size = len(data) if data is not None else size
    return info, data


def cve_2025_4517_chain(outside: str) -> bytes:
    """Directories with 247-character names, each reached through a one-letter symlink, then a
    link whose path passes PATH_MAX: os.path.realpath stops resolving there, so the data filter
    checks another path than the one written; `escape` then points at `outside`, beside -o."""
    comp, steps, path, members = "d" * 247, "abcdefghijklmnop", "", []
    for step in steps:
        members += [member(os.path.join(path, comp), tarfile.DIRTYPE),
                    member(os.path.join(path, step), tarfile.SYMTYPE, comp)]
        path = os.path.join(path, comp)
    deep = os.path.join(*steps, "l" * 254)
    members += [member(deep, tarfile.SYMTYPE, "../" * len(steps)),
                member("escape", tarfile.SYMTYPE, f"{deep}/../{outside}"),
                member("escape/pwned.txt", data=b"written outside -o\n")]
    return tar_of(*members)


def test_the_cve_2025_4517_symlink_chain_writes_nothing_anywhere(tmp_path):
    home, outside = tmp_path / "home", tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(ArchiveError, match="the returned run directory holds 'a', a symlink; a run directory holds "
                                           "only files and folders: nothing was unpacked"):
        unpack(logs_of(cve_2025_4517_chain("outside")), home)
    assert os.listdir(outside) == [] and os.listdir(home) == []


@pytest.mark.parametrize("members,message", [
    ([member("../evil.txt", data=b"x")], "holds the path '../evil.txt', outside itself"),
    ([member("results.jsonl/../../evil.txt", data=b"x")], "outside itself"),
    ([member("/tmp/evil.txt", data=b"x")], "holds the path '/tmp/evil.txt', outside itself"),
    ([member("results.jsonl", data=b"x"), member("copy", tarfile.LNKTYPE, "results.jsonl")], "'copy', a hard link"),
    ([member("plots", tarfile.SYMTYPE, "/etc")], "'plots', a symlink"),
    ([member("queue", tarfile.FIFOTYPE)], "'queue', a device or a fifo"),
])
def test_anything_but_files_and_folders_inside_it_is_refused_before_a_byte_is_written(members, message, tmp_path):
    home = tmp_path / "home"
    with pytest.raises(ArchiveError, match=message):
        unpack(logs_of(tar_of(*members)), home)
    assert os.listdir(home) == [] and not (tmp_path / "evil.txt").exists()


def test_a_member_claiming_9_gib_is_refused_by_its_header(tmp_path):
    """A real tar.gz whose one header claims 9 GiB and whose data stops after 1 MiB."""
    info, _ = member("samples.jsonl", size=9 * 2**30)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(info.tobuf(tarfile.GNU_FORMAT) + b"\0" * 2**20)
    with pytest.raises(ArchiveError, match="holds more than 8 GiB or 100000 files; nothing was unpacked"):
        unpack(logs_of(buf.getvalue()), tmp_path / "home")
    assert os.listdir(tmp_path / "home") == []


def test_a_packed_run_directory_comes_back_as_it_was(tmp_path):
    run_dir = write_run(tmp_path / "run", [synthetic_row(job_id="a")])
    (run_dir / "plots").mkdir()
    (run_dir / "plots" / "speed_0.png").write_bytes(b"\x89PNG")
    (run_dir / "link").symlink_to(run_dir / "results.jsonl")  # not a run's: left out of the pack
    home = tmp_path / "home"
    assert unpack(logs_of(pack(run_dir)), home)
    files = sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))
    assert files == ["manifest.json", "plots", "plots/speed_0.png", "results.jsonl"]
    assert (home / "results.jsonl").read_bytes() == (run_dir / "results.jsonl").read_bytes()


def test_pack_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "secret.txt").write_text("mine")
    refused(capsys, ["pack", str(tmp_path / "notes")], "no manifest.json here; give a directory that `sdpa-bench run` "
                                                       "wrote")
    refused(capsys, ["pack", str(tmp_path / "nope")], "no such run directory")
    assert capsys.readouterr().out == ""
