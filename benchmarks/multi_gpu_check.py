"""Validation on one host with several GPUs: every step through the CLI a user runs.

1. `devices` lists every GPU with its UUID.
2. `run` of configs/default.yaml (every_device), with NVML's per-GPU process list sampled every
   0.5 s: each worker process (its pid is in manifest.json) must appear on its own GPU only.
3. configs/isolation_demo.yaml: a 24 GiB budget on cuda:1 only (math `oom` there, `ok` on cuda:0),
   and a kill -9 of cuda:1's worker mid-run: it must come back while cuda:0 keeps working.
4. `spread` throughput on 1 GPU and on all of them: benchmarks/scaling.py N --real.
5. `selftest` on every GPU.
6. How closely identical GPUs agree: per point, cuda:N's median against cuda:0's, from step 2.

    python3 benchmarks/multi_gpu_check.py OUT_DIR [STEP,STEP...]   # prints each step's summary
"""
from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pynvml

from analysis.cells import POINT
from analysis.frame import load_results


def cli(args: list[str], out: Path, name: str, **popen) -> subprocess.Popen:
    log = open(out / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "orchestrator", *args], stdout=log, stderr=subprocess.STDOUT,
                            **popen)


class GpuProcesses(threading.Thread):
    """Every 0.5 s, which pids NVML lists on which GPU (by UUID)."""

    def __init__(self):
        super().__init__(daemon=True)
        pynvml.nvmlInit()
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        self.seen: dict[int, set[str]] = {}
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            for h in self.handles:
                for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h):
                    self.seen.setdefault(p.pid, set()).add(pynvml.nvmlDeviceGetUUID(h).removeprefix("GPU-"))
            time.sleep(0.5)


def manifest_devices(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "manifest.json").read_text())["sessions"][-1]["devices"]


def step_default(out: Path) -> dict:
    watcher = GpuProcesses()
    watcher.start()
    rc = cli(["run", "-c", "configs/default.yaml", "-o", str(out / "default")], out, "default").wait()
    watcher.stop = True
    devices = manifest_devices(out / "default")
    workers = {d["pid"]: d["gpu_uuid"] for d in devices}
    own_gpu_only = {pid: watcher.seen.get(pid) == {uuid} for pid, uuid in workers.items()}
    return {"rc": rc, "workers": workers,
            "cuda_visible_devices": {d["device"]: d["cuda_visible_devices"] for d in devices},
            "nvml_seen": {p: sorted(u) for p, u in watcher.seen.items()},
            "each_worker_on_its_own_gpu_only": own_gpu_only}


def step_isolation(out: Path) -> dict:
    run_dir = out / "isolation"
    proc = cli(["run", "-c", "configs/isolation_demo.yaml", "-o", str(run_dir)], out, "isolation")
    journal = run_dir / "results.jsonl"
    while proc.poll() is None and (not journal.exists() or len(journal.read_text().splitlines()) < 30):
        time.sleep(0.5)  # about a quarter of the jobs done: mid-run
    victim = next(d["pid"] for d in manifest_devices(run_dir) if d["device"] == "cuda:1")
    os.kill(victim, signal.SIGKILL)
    killed_at = time.time()
    rc = proc.wait()
    frame = load_results(run_dir)
    finished = frame.finished_at.map(lambda s: datetime.datetime.fromisoformat(s).timestamp())
    after = frame[finished > killed_at]
    math = frame[(frame.sweep == "tutorial_budget") & (frame.backend == "math")].set_index("device").status.to_dict()
    counts = frame.groupby(["device", "status"]).size()
    return {"rc": rc, "killed_pid": victim, "killed_at": killed_at, "math_status_by_device": math,
            "status_by_device": {f"{device} {status}": int(n) for (device, status), n in counts.items()},
            "retried_rows": frame[frame.attempt > 1][["device", "sweep", "backend", "status", "attempt"]].to_dict(
                "records"),
            "rows_after_kill_by_device": after.device.value_counts().to_dict()}


def step_agreement(out: Path) -> dict:
    """Per benchmark point of the default run, each GPU's median against cuda:0's, in percent."""
    ok = load_results(out / "default").query("job == 'sdpa_benchmark' and status == 'ok'")
    table = ok.pivot_table(index=[*POINT, "implementation"], columns="device", values="median_ms")
    diffs = {dev: (100 * (table[dev] / table["cuda:0"] - 1)).dropna() for dev in table.columns if dev != "cuda:0"}
    return {dev: {"points": len(d), "median_abs_pct": float(d.abs().median()), "max_abs_pct": float(d.abs().max()),
                  "within_2pct": int((d.abs() <= 2).sum()), "worst": " ".join(map(str, d.abs().idxmax()))}
            for dev, d in diffs.items()}


def step_scaling(out: Path) -> list[str]:
    pynvml.nvmlInit()
    gpus = pynvml.nvmlDeviceGetCount()
    run = subprocess.run([sys.executable, "benchmarks/scaling.py", str(gpus), "--real"], capture_output=True, text=True)
    (out / "scaling.log").write_text(run.stdout + run.stderr)
    return run.stdout.strip().splitlines()[-1:]


def main(out: Path, only: list[str] | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {}
    steps = [("devices_rc", lambda: cli(["devices"], out, "devices").wait()),
             ("default", lambda: step_default(out)),
             ("isolation", lambda: step_isolation(out)),
             ("scaling", lambda: step_scaling(out)),
             ("selftest_rc", lambda: cli(["selftest", "-o", str(out / "selftest")], out, "selftest").wait()),
             ("agreement", lambda: step_agreement(out))]
    for name, step in steps:  # the summary is rewritten after each step: a timeout keeps what finished
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        summary[name] = step()
        summary[f"{name}_wall_s"] = round(time.perf_counter() - t0, 1)
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        print(name, json.dumps(summary[name], default=str), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2].split(",") if len(sys.argv) > 2 else None)
