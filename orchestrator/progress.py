"""What a run shows while it runs: a live bar on a terminal, summary lines anywhere else.

On a terminal: one bar, redrawn in place, with done/total, jobs per minute, the ETA, the counts by
status and the slowest device so far. tqdm draws it: it sizes the bar to the terminal, redraws at
most a few times a second and smooths the rate behind its ETA.
Anywhere else (a file, a pipe, a Ray job's log): no carriage return ever; one summary line every
`every_s` seconds and at the end, and each row that is not ok in full (its line and its whole
error) as it lands, so a log read later holds every failure.
`verbose` adds a line per job in both (on a terminal, above the bar).
"""
from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from typing import TextIO

from base.schema import Result
from jobs import JOBS

UNITS = {"tflops": "TFLOPS", "gbs": "GB/s"}


def headline(r: Result) -> str:
    """The row's headline: its check or its timing when it has one, else the first line of its error."""
    m = r.metrics
    if m.get("check") is not None:
        return f"{m['check'][:90]} (error {m['err_ratio']:.3g}x baseline)"
    if m.get("median_ms") is not None:
        speed = JOBS[r.spec.job].report.speed
        unit = UNITS.get(speed, "")
        return f"{m['median_ms']:9.3f} ms" + (f" {m[speed]:8.2f} {unit}" if m.get(speed) is not None else "")
    return r.error.splitlines()[0][:80] if r.error else ""


def job_line(r: Result, done: int, total: int, with_headline: bool = True) -> str:
    return (f"[{done:>4}/{total}] {r.status:<11} {r.where['device']:<7} {r.spec.params.implementation():<10} "
            f"{r.spec.sweep}: {r.spec.label()}" + (f"  {headline(r)}" if with_headline else ""))


def duration(seconds: float) -> str:
    """4s, 3m07s, 2h05m: an ETA as people read one."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Tally:
    """Counts by status, and each device's job time, since the run's first job started."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.clock, self.started = total, clock, clock()
        self.counts: Counter[str] = Counter()
        self.busy_s: defaultdict[str, float] = defaultdict(float)
        self.jobs: Counter[str] = Counter()

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def add(self, r: Result) -> None:
        self.counts[r.status] += 1
        if r.duration_s is not None:  # a skipped job never ran: it says nothing of its device's speed
            device = f"{r.where['device']} on {r.where['hostname']}"
            self.busy_s[device] += r.duration_s
            self.jobs[device] += 1

    def per_minute(self) -> float:
        return 60 * self.done / max(self.clock() - self.started, 1e-9)

    def eta(self) -> str:
        rate = self.per_minute()
        return duration(60 * (self.total - self.done) / rate) if rate > 0 else "—"

    def statuses(self) -> str:
        """`ok 115, oom 3, error 2`: ok first, then the others as they first came."""
        ordered = ["ok", *(s for s in self.counts if s != "ok")]
        return ", ".join(f"{s} {self.counts[s]}" for s in ordered if self.counts[s]) or "none yet"

    def slowest(self) -> str:
        """The device with the longest mean job time, and that time."""
        if not self.jobs:
            return "—"
        device = max(self.jobs, key=lambda d: self.busy_s[d] / self.jobs[d])
        return f"{device} ({self.busy_s[device] / self.jobs[device]:.2f} s/job)"

    def fields(self) -> str:
        return f"{self.per_minute():.1f} jobs/min · {self.statuses()} · slowest {self.slowest()}"

    def summary(self) -> str:
        percent = 100 * self.done / self.total if self.total else 100
        return (f"sdpa-bench: {self.done}/{self.total} done ({percent:.0f}%) · ETA {self.eta()} · "
                f"{self.fields()}")


class LogProgress:
    """Summary lines every `every_s` seconds, and the rows that are not ok in full."""

    def __init__(self, tally: Tally, out: TextIO, every_s: float, verbose: bool):
        self.tally, self.out, self.every_s, self.verbose = tally, out, every_s, verbose
        self.last = tally.clock()

    def job_done(self, r: Result) -> None:
        self.tally.add(r)
        in_full = r.status != "ok" and bool(r.error)  # the whole error follows the row's line
        if self.verbose or r.status != "ok":
            self.note(job_line(r, self.tally.done, self.tally.total, with_headline=not in_full))
        if in_full:
            self.note("\n".join(f"    {line}" for line in r.error.splitlines()))
        self.tick()

    def tick(self) -> None:
        if self.tally.clock() - self.last >= self.every_s:
            self.last = self.tally.clock()
            self.note(self.tally.summary())

    def note(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def close(self) -> None:
        self.note(self.tally.summary())


class BarProgress:
    """One live bar (tqdm); per-job lines above it with `verbose`."""
    # tqdm puts ", " before a postfix itself
    FORMAT = "{n_fmt}/{total_fmt} |{bar}| {percentage:3.0f}% · ETA {remaining}{postfix}"

    def __init__(self, tally: Tally, out: TextIO, verbose: bool):
        from tqdm import tqdm  # only a terminal needs it

        self.tally, self.out, self.verbose = tally, out, verbose
        sized = columns(out) > 0  # a terminal nobody sized reads 0 columns, where tqdm would draw nothing
        self.bar = tqdm(total=tally.total, file=out, bar_format=self.FORMAT, dynamic_ncols=sized,
                        ncols=None if sized else 120, mininterval=0.25, smoothing=0.1)
        self.bar.set_postfix_str(tally.fields(), refresh=False)
        self.last = tally.clock()

    def job_done(self, r: Result) -> None:
        self.tally.add(r)
        if self.verbose:
            self.note(job_line(r, self.tally.done, self.tally.total))
        self.bar.set_postfix_str(self.tally.fields(), refresh=False)
        self.bar.update(1)

    def tick(self) -> None:
        """Redraw about once a second while nothing finishes: the ETA and the rate move on."""
        if self.tally.clock() - self.last >= 1.0:
            self.last = self.tally.clock()
            self.bar.set_postfix_str(self.tally.fields(), refresh=False)
            self.bar.refresh()

    def note(self, text: str) -> None:
        self.bar.write(text, file=self.out)

    def close(self) -> None:
        self.bar.set_postfix_str(self.tally.fields(), refresh=False)
        self.bar.close()


def columns(out: TextIO) -> int:
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError):
        return 0


def make_progress(total: int, out: TextIO | None = None, verbose: bool = False, every_s: float = 15.0):
    """A bar where `out` is a terminal, summary lines anywhere else."""
    out = out or sys.stdout
    tally = Tally(total)
    if out.isatty():
        return BarProgress(tally, out, verbose)
    return LogProgress(tally, out, every_s, verbose)
