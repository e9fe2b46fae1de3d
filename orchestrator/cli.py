"""The `sdpa-bench` command line: run a sweep, rebuild a report.

Bad input (a config that does not load, a run directory that cannot be used) gets one message
and exit code 2, before anything starts.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from orchestrator.config import ConfigError, load_config

INTERRUPTED_EXIT_CODE = 130  # as a shell reports Ctrl-C: the run stopped early, its report covers what finished
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


def cmd_run(args: argparse.Namespace) -> int:
    from orchestrator.launch import run_sweep  # imports Ray and torch: only when running

    if args.resume:
        if args.config or args.output:
            raise ConfigError("--resume RUN_DIR reuses that run's config and directory; drop -c and -o")
        run_dir, config_path = Path(args.resume), Path(args.resume) / "config.yaml"
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir, config_path = Path(args.output or f"runs/{stamp}"), Path(args.config or DEFAULT_CONFIG)
    config = load_config(config_path)
    outcome = run_sweep(config, config_path.read_text(), run_dir, args.address, resume=bool(args.resume))
    print(f"sdpa-bench: report written to {outcome.report}")
    return INTERRUPTED_EXIT_CODE if outcome.interrupted else 0


def cmd_selftest(args: argparse.Namespace) -> int:
    from orchestrator.selftest import selftest

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return 0 if selftest(Path(args.output or f"runs/selftest-{stamp}"), args.address) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import write_report

    run_dir = Path(args.run_dir)
    if not (run_dir / "results.jsonl").exists():
        raise ConfigError(f"{run_dir}: no results.jsonl here; give the directory a run wrote (-o of `sdpa-bench run`)")
    print(f"sdpa-bench: report written to {write_report(run_dir)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdpa-bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a sweep on every device Ray can see")
    run.add_argument("-c", "--config", help=f"YAML config (default: {DEFAULT_CONFIG.name} of the project)")
    run.add_argument("-o", "--output", help="run directory to create (default: runs/<timestamp>)")
    run.add_argument("--address", help="attach to this Ray cluster (e.g. auto) instead of starting one")
    run.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run: only missing jobs run")
    run.set_defaults(func=cmd_run)
    selftest = sub.add_parser("selftest", help="inject OOM, exception, crash and hang on every device; check each is recorded")
    selftest.add_argument("-o", "--output", help="run directory (default: runs/selftest-<timestamp>)")
    selftest.add_argument("--address", help="attach to this Ray cluster instead of starting one")
    selftest.set_defaults(func=cmd_selftest)
    report = sub.add_parser("report", help="rebuild results.parquet and report.md of a run directory")
    report.add_argument("run_dir")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"sdpa-bench: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
