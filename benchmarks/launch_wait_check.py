"""Does the GPU sleep before each rep (jobs/reps.py) take the host's launch out of the events?

For each decode point of a config (SDPA's backends need only torch; FA4 and FlashInfer where
installed) and one synthetic call (300 us of host Python, then a ~5 us kernel): the median of 1 s
of event-timed reps with the L2 flush alone before each rep (how reps were timed before), the same
with the sleep, and triton's do_bench(warmup=1000, rep=2000) median; and the host's launch time of
one call. Needs a CUDA GPU; no Ray.

    python3 benchmarks/launch_wait_check.py [CONFIG] [--sweeps s1,s2] [--match REGEX]
"""
from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

import torch
from triton.testing import do_bench

from jobs import decode
from jobs.contract import Unsupported
from jobs.reps import BeforeRep, before_rep, cuda_batch
from orchestrator.config import load_config
from orchestrator.sweep import expand_config

DEVICE = torch.device("cuda:0")


def host_heavy_call():
    x = torch.zeros(1 << 20, device=DEVICE)

    def call():
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 300e-6:
            pass
        return x.add_(1.0)
    return call


def one_second_of_reps(fn, before: BeforeRep) -> float:
    t0, times = time.perf_counter(), []
    while time.perf_counter() - t0 < 1.0:
        times += cuda_batch(fn, 50, before)
    return statistics.median(times)


def row(name: str, fn) -> None:
    fn()
    torch.cuda.synchronize()
    waited = before_rep(fn, DEVICE, True)
    flush_only = BeforeRep(waited.launch_us, 0, waited.flush)
    one_second_of_reps(fn, waited)  # warm: plans built, clocks up
    old, new = one_second_of_reps(fn, flush_only), one_second_of_reps(fn, waited)
    ref = do_bench(fn, warmup=1000, rep=2000, return_mode="median")
    print(f"{name[:70]:<70} {waited.launch_us:>9.1f} {old:>9.4f} {new:>9.4f} {ref:>9.4f} "
          f"{100 * (old / ref - 1):>+8.2f}% {100 * (new / ref - 1):>+8.2f}%", flush=True)


def points(config: Path, sweeps: set[str], match: str | None):
    for job in expand_config(load_config(config)):
        spec = job.spec
        if spec.job == "decode" and job.device_type != "cpu" and (not sweeps or spec.sweep in sweeps) \
                and (not match or re.search(match, spec.label())):
            yield spec


def main(config: Path, sweeps: set[str], match: str | None) -> None:
    print(f"{'point':<70} {'launch_us':>9} {'flush ms':>9} {'+wait ms':>9} {'do_bench':>9} {'flush':>9} {'+wait':>9}")
    row("synthetic: 300 us of host Python, then a ~5 us add", host_heavy_call())
    for spec in points(config, sweeps, match):
        try:
            with decode.prepared(spec.params, spec.seed, DEVICE) as (fn, _):
                row(f"{spec.params.implementation()} {spec.label()}", fn)
        except Unsupported as why:
            print(f"{spec.params.implementation()} {spec.label()}: unsupported ({str(why)[:80]})", flush=True)
        torch.cuda.empty_cache()


def option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--") and a not in (option("--sweeps"), option("--match"))]
    main(Path(args[0] if args else "docs/results/2026-12-01-h200-decode-check/commands/decode_check.yaml"),
         set(filter(None, (option("--sweeps") or "").split(","))), option("--match"))
