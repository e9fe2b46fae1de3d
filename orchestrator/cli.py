"""The `sdpa-bench` command line: run a sweep, report and compare runs.

Bad input (a config that does not load, a run directory that cannot be used, a number that is
not one) gets one message and exit code 2, before anything starts. `--help`, `report` and
`compare` import neither torch nor Ray: the config (whose jobs import torch) loads only where a
command runs one.
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import signal
import sys
from pathlib import Path

from base.errors import BadInput
from orchestrator.remote_cli import add_commands, check_seconds

PRIVATE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # 0: Ray takes 127.0.0.1 as the node's address
INTERRUPTED_EXIT_CODE = 130  # as a shell reports Ctrl-C: the run stopped early, its report covers what finished
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


def private_ray(address: str | None) -> None:
    """Embedded Ray binds every server to loopback: Ray 2.60 reads this before it is imported. It
    is set whatever the environment held: with a user's =1, 12 of Ray's 13 listening sockets were
    on every interface. (orchestrator.cluster refuses to start one where Ray read it otherwise.)"""
    if address:
        return
    if os.environ.get(PRIVATE, "0").lower() in ("1", "true"):
        print(f"sdpa-bench: {PRIVATE}={os.environ[PRIVATE]} ignored: a run without --address keeps Ray on loopback "
              "(docs/cluster.md)", flush=True)
    os.environ[PRIVATE] = "0"


def stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def run_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """(run directory, config) of a new run, or of the run --resume continues."""
    if not args.resume:
        return Path(args.output or f"runs/{stamp()}"), Path(args.config or DEFAULT_CONFIG)
    if args.config or args.output:
        raise BadInput("--resume RUN_DIR reuses that run's config and directory; drop -c and -o")
    run_dir = Path(args.resume)
    if not (run_dir / "config.yaml").is_file():
        what = "no config.yaml here" if run_dir.is_dir() else "no such run directory"
        raise BadInput(f"{run_dir}: {what}; --resume takes a directory that `sdpa-bench run` wrote")
    return run_dir, run_dir / "config.yaml"


def cmd_run(args: argparse.Namespace) -> int:
    from orchestrator.config import load_config

    run_dir, config_path = run_paths(args)
    config = load_config(config_path)
    check_seconds(args.progress_every, "--progress-every")
    if args.copy_to:
        from orchestrator.storage import check_storage

        check_storage(args.copy_to)
    private_ray(args.address)
    from orchestrator.launch import Display, run_sweep  # imports Ray and torch: only when running

    text = config_path.read_text(encoding="utf-8")
    if args.pack or args.copy_to:
        # a stop (SIGTERM) once the jobs are done waits for the report and the run directory sent; while
        # they run, launch turns it into an interrupt: the report of what finished, then the same
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        outcome = run_sweep(config, text, run_dir, args.address, resume=bool(args.resume),
                            display=Display(args.verbose, args.progress_every))
        if outcome.report is not None:
            print(f"sdpa-bench: report written to {outcome.report}")
    finally:
        send_home(run_dir, args.pack, args.copy_to)
    return finish(INTERRUPTED_EXIT_CODE if outcome.interrupted else 0)


def send_home(run_dir: Path, pack: bool, copy_to: str | None) -> None:
    """What a submitted run does last, stopped or not: print its run directory, or copy it to storage."""
    if not (run_dir / "manifest.json").is_file():
        return  # refused before anything was written: nothing to send
    if pack:
        from orchestrator.submit import pack as print_packed

        print_packed(run_dir)
    if copy_to:
        from orchestrator.storage import send_tree

        send_tree(run_dir, copy_to)
        print(f"sdpa-bench: run directory copied to {copy_to}", flush=True)


def finish(code: int) -> int:
    """Leave Ray, bounded: after SIGTERM to the whole process group its processes are gone, and an
    unbounded shutdown would wait a minute for them. Everything is on disk by now."""
    from orchestrator.cluster import disconnect

    if not disconnect():
        sys.stdout.flush()
        os._exit(code)
    return code


def cmd_selftest(args: argparse.Namespace) -> int:
    private_ray(args.address)
    from orchestrator.selftest import selftest

    return finish(0 if selftest(Path(args.output or f"runs/selftest-{stamp()}"), args.address) else 1)


def cmd_pack(args: argparse.Namespace) -> int:
    from orchestrator.submit import pack

    pack(Path(args.run_dir))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from analysis.compare import compare, format_table, write_csv
    from base.outputs import check_file

    if not (math.isfinite(args.threshold) and 0 <= args.threshold < 100):
        raise BadInput(f"--threshold {args.threshold}: give a finite fraction such as 0.05")
    out = Path(args.output or Path(args.run_b) / "compare.csv")
    check_file(out, "compare")  # before the work: a run's own file is never the output
    both = compare(Path(args.run_a), Path(args.run_b), args.threshold)
    print(format_table(both))
    write_csv(both, out)
    print(f"sdpa-bench: ratio table written to {out}")
    regressed = (both["verdict"] == "regression").any()
    return 1 if regressed and args.fail_on == "regression" else 0


def cmd_devices(args: argparse.Namespace) -> int:
    private_ray(args.address)
    from orchestrator.cluster import describe_devices

    infos = describe_devices(args.address)
    print(f"{'node':<14}{'host':<16}{'device':<8}{'GPU':<28}{'memory GiB':>11}{'max SM MHz':>11}  UUID")
    for i in sorted(infos, key=lambda i: (i.hostname, i.node, i.device)):
        memory = f"{i.memory_gib:.1f}" if i.memory_gib else "-"
        print(f"{i.node[:12]:<14}{i.hostname[:15]:<16}{i.device:<8}{i.gpu_name[:27]:<28}{memory:>11}"
              f"{i.sm_clock_max_mhz or '-':>11}  {i.gpu_uuid or '-'}")
    models = sorted({i.gpu_name for i in infos})
    print(f"{len(infos)} device(s) on {len({i.node for i in infos})} node(s): "
          + ", ".join(f"{sum(i.gpu_name == m for i in infos)} x {m}" for m in models))
    return finish(0)


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import write_report

    run_dirs = [Path(d) for d in args.run_dirs]
    if len(run_dirs) > 1 and not args.output:
        raise BadInput("several run directories make one report: say where it goes with -o OUT_DIR")
    report = write_report(run_dirs, args.output and Path(args.output), args.baseline,
                          args.baseline_run and Path(args.baseline_run))
    print(f"sdpa-bench: report written to {report}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from analysis.export import export

    count = export([Path(d) for d in args.run_dirs], Path(args.output), args.format)
    print(f"sdpa-bench: {count} records ({args.format}) written to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdpa-bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a sweep on every device Ray can see")
    run.add_argument("-c", "--config", help=f"YAML config (default: {DEFAULT_CONFIG.name} of the project)")
    run.add_argument("-o", "--output", help="run directory to create (default: runs/<timestamp>)")
    run.add_argument("--address", help="attach to this Ray cluster (e.g. auto) instead of starting one")
    run.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run: only missing jobs run")
    run.add_argument("-v", "--verbose", action="store_true", help="a line per finished job, beside the progress")
    run.add_argument("--progress-every", type=float, default=15.0, metavar="SECONDS",
                     help="not on a terminal: a summary line this often (default 15)")
    run.add_argument("--pack", action="store_true",
                     help="at the end, stopped or not, print the run directory as base64 tar.gz (what `submit` uses)")
    run.add_argument("--copy-to", metavar="URI", help="at the end, stopped or not, copy the run directory there "
                                                       "(an absolute path or a pyarrow.fs URI: `submit --storage`)")
    run.set_defaults(func=cmd_run)
    selftest = sub.add_parser("selftest", help="inject OOM, exceptions, crashes and a hang on every device; "
                                               "check each is recorded")
    selftest.add_argument("-o", "--output", help="run directory (default: runs/selftest-<timestamp>)")
    selftest.add_argument("--address", help="attach to this Ray cluster instead of starting one")
    selftest.set_defaults(func=cmd_selftest)
    add_commands(sub)  # submit, job
    pack = sub.add_parser("pack", help="print a run directory as base64 tar.gz (what a submitted job sends back)")
    pack.add_argument("run_dir")
    pack.set_defaults(func=cmd_pack)
    comp = sub.add_parser("compare", help="B against A on the same points and GPU models; exit 1 on a regression")
    comp.add_argument("run_a")
    comp.add_argument("run_b")
    comp.add_argument("--threshold", type=float, default=0.05,
                      help="smallest change to flag, as a fraction (default 0.05)")
    comp.add_argument("--fail-on", choices=["regression", "never"], default="regression")
    comp.add_argument("-o", "--output", help="CSV of the ratio table (default: RUN_B/compare.csv)")
    comp.set_defaults(func=cmd_compare)
    devices = sub.add_parser("devices", help="list the devices a run would use: node, host, GPU model, memory, UUID")
    devices.add_argument("--address", help="attach to this Ray cluster (e.g. auto) instead of starting one")
    devices.set_defaults(func=cmd_devices)
    report = sub.add_parser("report", help="one report from one or more run directories (any machines, any dates)")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument("-o", "--output", metavar="OUT_DIR", help="where the report goes (default: the one RUN_DIR)")
    report.add_argument("--baseline", metavar="GPU_MODEL",
                        help="the GPU model others are compared to (default: the first)")
    report.add_argument("--baseline-run", metavar="RUN_DIR",
                        help="flag the points that moved beyond the noise since this run (one of the RUN_DIRs, or "
                             "another, which joins them)")
    report.set_defaults(func=cmd_report)
    export = sub.add_parser("export", help="write runs as records for a benchmark database (PyTorch's v3)")
    export.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    export.add_argument("--format", default="pytorch-v3", help="pytorch-v3 (the default): PyTorch's benchmark "
                                                              "database records, one JSON object a line")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BadInput as err:
        print(f"sdpa-bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a run's own handling: what was written is whole (base/outputs.py)
        print("sdpa-bench: interrupted; nothing half-written was left behind", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
