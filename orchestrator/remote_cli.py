"""The command line of runs on a cluster's job server: `submit` and `job status|logs|stop|fetch`.

cli.py registers these beside its own commands. Every argument is checked before the job server is
asked anything; importing this module loads neither Ray nor torch.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from base.errors import BadInput


def check_new_dir(run_dir: Path) -> Path:
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise BadInput(f"{run_dir}: exists and is not an empty directory; choose a new directory with -o")
    return run_dir


def check_seconds(value: float, flag: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise BadInput(f"{flag} {value}: give a positive number of seconds")
    return value


def cmd_submit(args: argparse.Namespace) -> int:
    from orchestrator.cli import DEFAULT_CONFIG
    from orchestrator.config import load_config
    from orchestrator.storage import check_storage

    config_path = Path(args.config or DEFAULT_CONFIG)
    load_config(config_path)  # refuse a bad config here, before anything is sent
    if args.no_wait and args.output:
        raise BadInput("--no-wait leaves the run on the cluster: drop -o, and bring it home later with "
                       "`sdpa-bench job fetch ID --address ... -o RUN_DIR`")
    if not args.no_wait and not args.output:
        raise BadInput("say where the run directory comes back to with -o RUN_DIR (or leave it there: --no-wait)")
    run_dir = check_new_dir(Path(args.output)) if args.output else None
    check_seconds(args.timeout, "--timeout")
    check_seconds(args.progress_every, "--progress-every")
    storage = check_storage(args.storage) if args.storage else ""
    from orchestrator.submit import submit

    return submit(args.address, config_path, run_dir, args.timeout, wait=not args.no_wait, storage=storage,
                  verbose=args.verbose, every_s=args.progress_every)


def cmd_job(args: argparse.Namespace) -> int:
    from orchestrator import remote

    if not args.job_id.strip():  # the server answers an empty id with its list of jobs
        raise BadInput("give the job's id, as `submit --no-wait` printed it")
    if args.action == "fetch":
        if not args.output:
            raise BadInput("say where the run directory goes with -o RUN_DIR")
        return remote.job_fetch(args.address, args.job_id, check_new_dir(Path(args.output)))
    if args.output:
        raise BadInput(f"-o is for `job fetch`; `job {args.action}` writes nothing")
    if args.follow and args.action != "logs":
        raise BadInput(f"--follow is for `job logs`; `job {args.action}` has none")
    if args.action == "logs":
        return remote.job_logs(args.address, args.job_id, args.follow)
    return {"status": remote.job_status, "stop": remote.job_stop}[args.action](args.address, args.job_id)


def add_commands(sub) -> None:
    from orchestrator.cli import DEFAULT_CONFIG  # loaded by now: cli.py calls this

    submit = sub.add_parser("submit", help="run a sweep as a Ray job on a cluster; the run directory comes back here")
    submit.add_argument("--address", required=True, help="the cluster's dashboard, e.g. http://HEAD:8265")
    submit.add_argument("-c", "--config", help=f"YAML config (default: {DEFAULT_CONFIG.name} of the project)")
    submit.add_argument("-o", "--output", help="run directory to create on this machine (not with --no-wait)")
    submit.add_argument("--no-wait", action="store_true",
                        help="print the submission id and leave; `sdpa-bench job ...` follows, stops and fetches it")
    submit.add_argument("--storage", metavar="URI",
                        help="send the run directory through this absolute path or pyarrow.fs URI (s3://...), "
                             "which the cluster and this machine both reach, instead of the job's logs")
    submit.add_argument("--timeout", type=float, default=24 * 3600, help="stop the job after this many seconds")
    submit.add_argument("-v", "--verbose", action="store_true", help="the job logs a line per job too")
    submit.add_argument("--progress-every", type=float, default=15.0, metavar="SECONDS",
                        help="the job logs a summary line this often (default 15)")
    submit.set_defaults(func=cmd_submit)
    job = sub.add_parser("job", help="a submitted run: its status, its logs (--follow), stop it, fetch its run "
                                     "directory")
    job.add_argument("action", choices=["status", "logs", "stop", "fetch"])
    job.add_argument("job_id", metavar="ID", help="the submission id `submit` printed")
    job.add_argument("--address", required=True, help="the cluster's dashboard, e.g. http://HEAD:8265")
    job.add_argument("--follow", action="store_true", help="logs: stream them until the job ends")
    job.add_argument("-o", "--output", metavar="RUN_DIR", help="fetch: the run directory to create here")
    job.set_defaults(func=cmd_job)
