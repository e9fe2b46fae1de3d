"""Who a worker is: the device it pinned and the software around it.

`probe_device` runs inside the worker actor. Ray has already narrowed CUDA_VISIBLE_DEVICES to
the one GPU it assigned, so that GPU is `cuda:0` to torch; the row names it by its index on
the node (`ray.get_gpu_ids()`), which is what `nvidia-smi` shows. A worker given a GPU slot on
a machine without CUDA (Ray's fake GPUs, in tests) computes on the CPU and says so.
"""
from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass

import ray
import torch


@dataclass(frozen=True)
class DeviceInfo:
    node: str
    hostname: str
    device: str  # cuda:N or cpu
    compute: str  # the torch device the jobs use: cuda:0 or cpu
    gpu_name: str
    gpu_uuid: str
    memory_gib: float | None
    sm_count: int | None
    compute_capability: str
    torch_version: str
    cuda_version: str
    cudnn_version: str
    driver_version: str
    sm_clock_max_mhz: int | None = None  # NVML's maximum SM clock; each row records the clock it ran at
    pid: int = 0  # the worker process: what nvidia-smi lists per GPU (a restarted worker has a new one)
    cuda_visible_devices: str = ""  # as Ray narrowed it for this worker: one GPU each

    @property
    def key(self) -> str:
        """Stable across runs (unlike Ray's node id): the GPU's UUID, else host and slot."""
        return self.gpu_uuid or f"{self.hostname}/{self.device}"


def nvml_facts(uuid: str) -> dict:
    """The driver's version and the GPU's maximum SM clock through NVML; empty where
    nvidia-ml-py or the driver is absent."""
    try:
        import pynvml
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        return {"driver_version": pynvml.nvmlSystemGetDriverVersion(),
                "sm_clock_max_mhz": pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)}
    except pynvml.NVMLError:
        return {}


def probe_device() -> DeviceInfo:
    gpu_ids = ray.get_gpu_ids()
    common = dict(node=ray.get_runtime_context().get_node_id(), hostname=socket.gethostname(), pid=os.getpid(),
                  cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                  torch_version=torch.__version__, cuda_version=torch.version.cuda or "",
                  cudnn_version=str(torch.backends.cudnn.version() or ""))
    if gpu_ids and torch.cuda.is_available():
        torch.cuda.set_device(0)
        props = torch.cuda.get_device_properties(0)
        nvml = {"driver_version": "", **nvml_facts(str(props.uuid))}
        return DeviceInfo(**common, **nvml, device=f"cuda:{gpu_ids[0]}", compute="cuda:0", gpu_name=props.name,
                          gpu_uuid=str(props.uuid), memory_gib=props.total_memory / 2**30,
                          sm_count=props.multi_processor_count, compute_capability=f"{props.major}.{props.minor}")
    label = f"cuda:{gpu_ids[0]}" if gpu_ids else "cpu"
    name = "fake GPU slot (CPU compute)" if gpu_ids else (platform.processor() or platform.machine())
    return DeviceInfo(**common, device=label, compute="cpu", gpu_name=name, gpu_uuid="", memory_gib=None,
                      sm_count=None, compute_capability="", driver_version="")
