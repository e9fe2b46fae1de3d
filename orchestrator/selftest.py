"""`sdpa-bench selftest`: inject every fault on every device, then check what was recorded.

For an operator's first run on a new cluster: an out-of-memory, an exception, a process crash
and a hang past a short timeout, then one real benchmark point on the same (restarted) worker.
Prints one table per device: injected, expected, recorded, pass/fail.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from analysis.frame import load_results
from jobs.faults import EXPECTED_STATUS
from orchestrator.config import config_from_data
from orchestrator.launch import run_sweep

SELFTEST_CONFIG = """
run: {max_retries: 1}
timing: {warmup_reps: 2, warmup_ms: 20, min_reps: 10, max_reps: 1000, target_rel_ci: 0.05, min_timed_ms: 0, budget_s: 1}
sweeps:
  - name: faults
    job: fault_injection
    job_timeout_s: 5      # the hang must end in a timeout, quickly
    grid: {batch: [1], heads: [4], seq_len: [128], head_dim: [64], dtype: [float32], backend: [math],
           fault: [oom, error, crash, exit, interrupt, undeclared, hang]}
  - name: after_faults    # a real point on the worker that lived through all of the above
    grid: {batch: [1], heads: [4], seq_len: [128], head_dim: [64], dtype: [float32], backend: [default]}
"""


def check_rows(run_dir: Path) -> tuple[list[str], bool]:
    """Per device, one line per injected fault and the benchmark after them; and whether all passed."""
    frame = load_results(run_dir)
    lines, all_ok = [], True
    for device, rows in frame.groupby(["hostname", "device", "gpu_name"]):
        lines += ["", f"{' '.join(device)}", f"  {'injected':<12}{'expected':<10}{'recorded':<10}{'attempts':<9}result"]
        for _, row in rows.iterrows():
            fault = row["fault"] if row["job"] == "fault_injection" else "none"
            injected = {"fault_injection": fault, "device_ceilings": "ceilings"}.get(row["job"], "benchmark")
            expected = EXPECTED_STATUS[fault]
            ok = row["status"] == expected
            all_ok &= ok
            verdict = "PASS" if ok else "FAIL"
            lines.append(f"  {injected:<12}{expected:<10}{row['status']:<10}{row['attempt']:<9}{verdict}")
    return lines, all_ok


def selftest(run_dir: Path, address: str | None) -> bool:
    config = config_from_data(yaml.safe_load(SELFTEST_CONFIG))
    report = run_sweep(config, SELFTEST_CONFIG, run_dir, address).report
    lines, all_ok = check_rows(run_dir)
    print("\n".join(["sdpa-bench selftest", *lines, "", f"{'PASS' if all_ok else 'FAIL'} (report: {report})"]))
    return all_ok
