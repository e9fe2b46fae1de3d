"""Process-wide state that a job (a user's candidate kernel, say) could change and every later job
on the same worker would silently inherit. Torch's settings: autograd, dtypes, threads, TF32 and
reduced precision, determinism, cuDNN's switches, SDPA's backend flags, and the kernel behind
SDPA's flash backend (`torch.backends.cuda.enable_flash_sdp(False)` left behind made `default`
run math: 2.3x). The clocks the timing protocol reads (a replaced `time.perf_counter` made every
later job look 10x faster). And what the job left running beside the next one: threads (one
left running into torch made a later point 9% slower) and child processes. The worker reads the
settings and clocks when it starts and its threads and children before each job; a difference
after a job restarts it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import torch
import torch.nn.attention as attention

CUDA = torch.backends.cuda


def sdpa_flags() -> dict[str, object]:
    flags = {"flash_sdp": CUDA.flash_sdp_enabled(), "mem_efficient_sdp": CUDA.mem_efficient_sdp_enabled(),
             "math_sdp": CUDA.math_sdp_enabled(), "cudnn_sdp": CUDA.cudnn_sdp_enabled()}
    if hasattr(CUDA, "fp16_bf16_reduction_math_sdp_allowed"):
        flags["fp16_bf16_reduction_math_sdp"] = CUDA.fp16_bf16_reduction_math_sdp_allowed()
    return flags


def flash_impl() -> str:
    """The kernel behind SDPA's flash backend: `builtin` (torch's FlashAttention-2) or, since torch
    2.10, an activated implementation such as FA4."""
    current = getattr(attention, "current_flash_attention_impl", lambda: None)()
    return current or "builtin"


def process_state() -> dict[str, object]:
    return {
        "grad_enabled": torch.is_grad_enabled(), "inference_mode": torch.is_inference_mode_enabled(),
        "anomaly_detection": torch.is_anomaly_enabled(), "default_dtype": torch.get_default_dtype(),
        "default_device": str(torch.get_default_device()), "num_threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "matmul_tf32": CUDA.matmul.allow_tf32,
        "matmul_fp16_reduced_reduction": CUDA.matmul.allow_fp16_reduced_precision_reduction,
        "matmul_bf16_reduced_reduction": CUDA.matmul.allow_bf16_reduced_precision_reduction,
        "cudnn_enabled": torch.backends.cudnn.enabled, "cudnn_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark, "cudnn_deterministic": torch.backends.cudnn.deterministic,
        **sdpa_flags(), "flash_impl": flash_impl(),
    }


def clocks() -> dict[str, object]:
    """The functions the timing protocol reads time and waits through, by identity."""
    event = torch.cuda.Event
    return {"time.perf_counter": time.perf_counter, "time.perf_counter_ns": time.perf_counter_ns,
            "time.monotonic": time.monotonic, "time.monotonic_ns": time.monotonic_ns, "time.time": time.time,
            "time.sleep": time.sleep, "torch.cuda.synchronize": torch.cuda.synchronize, "torch.cuda.Event": event,
            "torch.cuda.Event.record": event.record, "torch.cuda.Event.synchronize": event.synchronize,
            "torch.cuda.Event.elapsed_time": event.elapsed_time}


def replaced_clocks(start: dict[str, object]) -> list[str]:
    """The clocks that are no longer the functions they were at `start`."""
    return [name for name, function in clocks().items() if start.get(name) is not function]


# Where an idle pool thread waits (a lock, a condition, a queue): torch.compile keeps such pools
# between jobs, by design. A thread whose innermost frame is anywhere else is running code.
PARKED = ("threading.py", "queue.py", "concurrent/futures/thread.py", "selectors.py")
# Child processes torch keeps between jobs by design: torch.compile's pool of compile workers
KEPT_CHILDREN = ("torch/_inductor/compile_worker",)


def threads() -> set[int]:
    return {t.ident for t in threading.enumerate() if t.ident is not None}


def busy_threads(before: set[int]) -> list[str]:
    """The names of threads started since `before` that are still running code."""
    frames = sys._current_frames()
    return [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()
            and not parked(frames.get(t.ident))]


# ...and (file, function) where a thread waits on a pipe: torch.compile's pool of compile workers
# (the InductorSubproc thread, blocked reading its results; seen on an H200 after every flex job)
PARKED_IN = (("torch/_inductor/compile_worker/subproc_pool.py", "_recv_msg"),)


def parked(frame) -> bool:
    if frame is None:
        return True
    path, function = frame.f_code.co_filename.replace(os.sep, "/"), frame.f_code.co_name
    return path.endswith(PARKED) or any(path.endswith(f) and function == name for f, name in PARKED_IN)


def children() -> dict[int, str]:
    """This process's live child processes (pid -> command line); Linux's /proc, else none known."""
    found = {}
    for pid in child_pids():
        line = read(Path(f"/proc/{pid}/cmdline")).replace("\0", " ").strip()
        if line and read(Path(f"/proc/{pid}/stat")).rpartition(")")[2].split()[:1] != ["Z"]:  # not a zombie
            found[pid] = line
    return found


def child_pids() -> list[int]:
    tasks = list(Path("/proc/self/task").glob("*/children"))
    if tasks:
        return [int(pid) for task in tasks for pid in read(task).split()]
    me = [str(os.getpid())]  # a kernel without /proc/.../children: every process's parent, from its stat
    return [int(d.name) for d in Path("/proc").glob("[0-9]*") if read(d / "stat").rpartition(")")[2].split()[1:2] == me]


def read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:  # the process ended meanwhile
        return ""


def new_children(before: set[int]) -> dict[int, str]:
    """Children started since `before`, but for the pools torch keeps."""
    return {pid: line for pid, line in children().items() if pid not in before
            and not any(kept in line for kept in KEPT_CHILDREN)}
