"""Who a worker is: the device it pinned and the software around it.

`probe_device` runs inside the worker actor. Ray has already narrowed CUDA_VISIBLE_DEVICES to
the one GPU it assigned, so that GPU is `cuda:0` to torch; the row names it by its index on
the node (`ray.get_gpu_ids()`), which is what `nvidia-smi` shows. A worker given a GPU slot on
a machine without CUDA (Ray's fake GPUs, in tests) computes on the CPU and says so.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import socket

import ray
import torch

from base.schema import DeviceInfo


def nvml_facts(uuid: str) -> dict:
    """The driver's version, the GPU's maximum SM clock and its enforced power limit through NVML;
    empty where nvidia-ml-py or the driver is absent."""
    try:
        import pynvml
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        return {"driver_version": pynvml.nvmlSystemGetDriverVersion(),
                "sm_clock_max_mhz": pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM),
                "power_limit_w": pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1e3}
    except pynvml.NVMLError:
        return {}


# Optional attention packages a report names beside torch: a number depends on their versions.
OPTIONAL_PACKAGES = ("flash-attn-4", "nvidia-cutlass-dsl", "quack-kernels", "flashinfer-python", "triton")


def packages() -> str:
    """`name version` of each optional package this worker can import, comma-separated."""
    found = []
    for name in OPTIONAL_PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def probe_device() -> DeviceInfo:
    gpu_ids = ray.get_gpu_ids()
    common = dict(node=ray.get_runtime_context().get_node_id(), hostname=socket.gethostname(), pid=os.getpid(),
                  cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                  torch_version=torch.__version__, cuda_version=torch.version.cuda or "",
                  cudnn_version=str(torch.backends.cudnn.version() or ""), packages=packages())
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
