"""A run directory sent to storage and brought back from it: what `submit --storage` uses where
the job's logs would be too large (docs/cluster.md has the sizes).

Storage is a path both the job's driver and the client see (a shared filesystem), or any URI
pyarrow.fs reads (s3://, gs://, hdfs://, file://), with its credentials from the environment as
pyarrow takes them. A submitted job's run directory goes to STORAGE/<submission id>.
"""
from __future__ import annotations

from pathlib import Path

from base.errors import BadInput


class StorageError(BadInput):
    """Storage that cannot be used as given; the message says why."""


def check_storage(storage: str) -> str:
    """`storage` as the job and the client will both read it: a URI, or an absolute path."""
    if "://" not in storage and not Path(storage).is_absolute():
        raise StorageError(f"--storage {storage}: give an absolute path that the cluster's head and this machine "
                           "both see, or a URI such as s3://bucket/runs")
    filesystem(storage)
    return storage


def filesystem(uri: str):
    """(pyarrow filesystem, path in it) for a URI or an absolute path."""
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as err:  # pyarrow's ArrowInvalid is a ValueError, its IO errors OSErrors
        raise StorageError(f"{uri}: not a storage pyarrow can open: {str(err)[:200]}") from None


def send_tree(run_dir: Path, destination: str) -> None:
    """Copy the run directory to `destination` (a run's last step when it has --copy-to)."""
    import pyarrow.fs as pafs

    fs, path = filesystem(destination)
    try:
        fs.create_dir(path, recursive=True)
        pafs.copy_files(str(run_dir.resolve()), path, source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=fs)
    except OSError as err:  # the run itself is whole in run_dir: say so
        raise StorageError(f"{destination}: cannot copy the run directory there ({str(err)[:200]}); it is whole "
                           f"in {run_dir}") from None


def fetch_tree(storage: str, job_id: str, run_dir: Path) -> None:
    """Copy the job's run directory from `storage` into `run_dir`."""
    import pyarrow.fs as pafs

    from orchestrator.submit import storage_path

    fs, path = filesystem(storage_path(storage, job_id))
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        raise StorageError(f"{storage_path(storage, job_id)}: the job wrote no run directory there; its log says why "
                           f"(`sdpa-bench job logs {job_id} --address ...`)")
    run_dir.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(path, str(run_dir.resolve()), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
