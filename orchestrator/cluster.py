"""Connecting to Ray and starting one worker per device it has.

Devices are found through Ray's resources, node by node: a node with N GPUs gets N workers,
each holding `num_gpus=1` and pinned to that node; a cluster with no GPU at all gets one CPU
worker per node. Embedded Ray (no --address) is sized for a small machine and private to it:
no dashboard, a small object store, and every server bound to loopback (cli.py sets
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported: Ray 2.60 then takes 127.0.0.1 as
the node's address, where otherwise its gRPC servers listen on every interface; where Ray was
imported with it on, no embedded Ray is started).
"""
from __future__ import annotations

import threading

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from base.errors import BadInput
from base.schema import DeviceInfo
from base.settings import MemoryBudget, TimingConfig
from orchestrator.address import check_cluster
from orchestrator.worker import DeviceWorker

OBJECT_STORE_BYTES = 256 * 2**20
STOP_TIMEOUT_S = 10.0  # Ray's processes may be gone (SIGTERM to the process group): never wait long


def connect(address: str | None) -> None:
    """Start embedded Ray, or attach to the cluster at `address`; no-op if already connected."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        check_private()
        # "local": always a new instance of our own; a bare ray.init() would attach to any cluster
        # `ray start` left running on this machine (and then refuse the object store size)
        ray.init(address="local", include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
                 log_to_driver=False)


def check_private() -> None:
    """Embedded Ray must take loopback as its address; Ray read the variable when it was imported
    (before sdpa-bench could set it, in a script or a notebook that imported Ray first)."""
    from ray._private import ray_constants

    if ray_constants.ENABLE_RAY_CLUSTER:
        raise BadInput(f"Ray was imported with {ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR}=1: an embedded Ray would "
                       "listen on every interface; set it to 0 before Ray is imported, or give --address")


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


def within(action, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Run `action` on a thread for at most `timeout_s`; False if it did not finish (Ray hung)."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return not thread.is_alive()


def stop_workers(workers: list[ray.actor.ActorHandle]) -> None:
    """Kill the workers for good; bounded, since their cluster may already be gone."""
    def kill_all():
        for worker in workers:
            ray.kill(worker, no_restart=True)
    within(kill_all)


def disconnect() -> bool:
    """ray.shutdown(), bounded; False if Ray did not answer in time (its processes are gone)."""
    return within(ray.shutdown) if ray.is_initialized() else True


def describe_devices(address: str | None) -> list[DeviceInfo]:
    """Start one worker per device, ask each who it is, stop them: what a run would use."""
    if address:
        check_cluster(address)  # in seconds: ray.init would wait minutes on a dead port
    connect(address)
    workers = start_workers(TimingConfig(), MemoryBudget(), max_restarts=0)
    stop_workers([w for w, _ in workers])
    return [info for _, info in workers]
