"""Does every timed rep do the work the probe did? A kernel can return the right output when it is
checked and nothing later (seen: a candidate that returned None after its first call timed
0.000 ms and won the headline). `RepCheck` sees each timed rep's result after its end event is
queued, outside the timed region: its type, shape and dtype against the probe's every rep, its
values against the probe's on the last. What it costs the host per rep is measured and kept.
"""
from __future__ import annotations

import time
from typing import TypedDict

import torch

from jobs.output_check import BadOutput

class RepCheckMetrics(TypedDict, total=False):
    rep_checks: str  # what was checked of the timed reps' results
    rep_check_us: float  # host microseconds it cost per rep, outside the timed region


REL_TOLERANCE = 1e-2  # of the probe output's largest value: reductions in another order, not other work


def signature(result: object) -> object:
    """What a result is made of: (shape, dtype) per tensor, the type of anything else."""
    if isinstance(result, torch.Tensor):
        return tuple(result.shape), result.dtype
    if isinstance(result, (tuple, list)):
        return tuple(signature(r) for r in result)
    return type(result).__name__


def tensors(result: object) -> list[torch.Tensor]:
    if isinstance(result, torch.Tensor):
        return [result]
    return [t for r in result for t in tensors(r)] if isinstance(result, (tuple, list)) else []


class RepCheck:
    """Called with each timed rep's result; `verify_last()` once the reps are done."""

    def __init__(self, probe: object):
        # a copy: an implementation that writes into one output buffer every call would otherwise
        # compare its last rep with itself
        self.probe, self.expected = [t.detach().clone() for t in tensors(probe)], signature(probe)
        self.last, self.reps, self.seconds = None, 0, 0.0

    def __call__(self, result: object) -> None:
        t0 = time.perf_counter()
        self.reps += 1
        got = signature(result)
        if got != self.expected:
            raise BadOutput(f"timed rep {self.reps} returned {got}, not what the checked probe call returned "
                            f"({self.expected}): it did not do the same work")
        self.last = result
        self.seconds += time.perf_counter() - t0

    def verify_last(self) -> None:
        """The last rep's values against the probe's (both finite, within REL_TOLERANCE of its scale)."""
        for probe, last in zip(self.probe, tensors(self.last)):
            probe, last = probe.detach().float(), last.detach().float()
            scale = probe.abs().max().item() if probe.numel() else 0.0
            if not torch.isfinite(last).all() or (last - probe).abs().max().item() > REL_TOLERANCE * scale + 1e-6:
                raise BadOutput(f"the last timed rep's output differs from the checked probe's (over "
                                f"{REL_TOLERANCE:.0%} of its largest value): the timed calls did other work")
        self.probe = self.last = None

    def metrics(self) -> dict[str, object]:
        checked = "type, shape, dtype of every rep; values of the last" if self.reps else "none (CUDA graph replays)"
        return {"rep_checks": checked, "rep_check_us": 1e6 * self.seconds / self.reps if self.reps else None}
