"""Where sdpa-bench's fixed start-up cost goes on this machine (issue 3's wall-time target).

    python3 benchmarks/startup_check.py [REPEATS]

Prints, for fresh processes, the seconds each step a worker takes on start costs by itself
(import ray, import the worker module and with it torch, CUDA's first context, cuDNN's version,
NVML), then REPEATS (default 3) embedded Ray starts, with and without Ray's worker prestart:
connect, then one worker per device ready.
"""
from __future__ import annotations

import subprocess
import sys
import time

STEPS = {
    "python": "pass",
    "import ray": "import ray",
    "import orchestrator.worker (torch)": "import orchestrator.worker",
    "+ CUDA context": "import orchestrator.worker, torch; torch.zeros(1, device='cuda')",
    "+ cuDNN version, NVML": "import orchestrator.worker, torch; torch.zeros(1, device='cuda'); "
                             "torch.backends.cudnn.version(); from orchestrator.devices import nvml_facts; "
                             "nvml_facts(str(torch.cuda.get_device_properties(0).uuid))",
}


def fresh_process_s(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def ray_start_s(prestart: bool) -> tuple[float, float]:
    """connect(None)'s ray.init, optionally without Ray's default prestart of one idle Python
    worker per CPU when the driver connects (16 here, competing with our worker's start)."""
    import ray

    from jobs.timing import TimingConfig
    from orchestrator.cluster import OBJECT_STORE_BYTES, start_workers
    from orchestrator.config import MemoryBudget
    t0 = time.perf_counter()
    ray.init(address="local", include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, log_to_driver=False,
             _system_config=None if prestart else {"prestart_worker_first_driver": False})
    t1 = time.perf_counter()
    workers = start_workers(TimingConfig(), MemoryBudget(), max_restarts=0)
    t2 = time.perf_counter()
    for worker, _ in workers:
        ray.kill(worker)
    ray.shutdown()
    return t1 - t0, t2 - t1


def main(repeats: int) -> None:
    for name, code in STEPS.items():
        runs = [fresh_process_s(code) for _ in range(2)]
        print(f"fresh process, {name:<38} {' '.join(f'{s:5.2f}' for s in runs)} s", flush=True)
    for i in range(repeats):
        for prestart in (True, False):
            ray_s, workers_s = ray_start_s(prestart)
            print(f"embedded Ray start {i + 1}, prestart {prestart!s:<5}: Ray up in {ray_s:.2f} s, "
                  f"workers ready in {workers_s:.2f} s", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
