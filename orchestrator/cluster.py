"""Connecting to Ray and starting one worker per device it has.

Devices are found through Ray's resources, node by node: a node with N GPUs gets N workers,
each holding `num_gpus=1` and pinned to that node; a cluster with no GPU at all gets one CPU
worker per node. Embedded Ray (no --address) is sized for a small machine: no dashboard and a
small object store, since results are a few KB each.
"""
from __future__ import annotations

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from jobs.timing import TimingConfig
from orchestrator.config import MemoryBudget
from orchestrator.devices import DeviceInfo
from orchestrator.worker import DeviceWorker

OBJECT_STORE_BYTES = 256 * 2**20


def connect(address: str | None) -> None:
    """Start embedded Ray, or attach to the cluster at `address`; no-op if already connected."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        # "local": always a new instance of our own; a bare ray.init() would attach to any cluster
        # `ray start` left running on this machine (and then refuse the object store size)
        ray.init(address="local", include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
                 log_to_driver=False)


def gpus_per_node() -> dict[str, int]:
    """Alive node id -> whole GPUs it offers to Ray."""
    return {n["NodeID"]: int(n["Resources"].get("GPU", 0)) for n in ray.nodes() if n["Alive"]}


def start_workers(timing: TimingConfig, budget: MemoryBudget, max_restarts: int,
                  ) -> list[tuple[ray.actor.ActorHandle, DeviceInfo]]:
    """One worker per GPU (or per node when there is no GPU), each with its identity."""
    nodes = gpus_per_node()
    use_gpus = any(nodes.values())
    workers = []
    for node_id, gpus in nodes.items():
        slots = gpus if use_gpus else 1
        for _ in range(slots):
            workers.append(DeviceWorker.options(
                num_gpus=1 if use_gpus else 0, num_cpus=0 if use_gpus else 1,
                max_restarts=max_restarts, max_task_retries=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(timing, budget))
    infos = ray.get([w.identity.remote() for w in workers])
    return list(zip(workers, infos))


def describe_devices(address: str | None) -> list[DeviceInfo]:
    """Start one worker per device, ask each who it is, stop them: what a run would use."""
    connect(address)
    workers = start_workers(TimingConfig(), MemoryBudget(), max_restarts=0)
    for worker, _ in workers:
        ray.kill(worker)
    return [info for _, info in workers]
