"""Beyond one machine, on a real two-node Ray cluster (two raylets on 127.0.0.1, one fake GPU
each): placements, identity across nodes, and a node that leaves mid-run."""
import threading
import time

from analysis import load_results
from orchestrator.config import load_config
from orchestrator.launch import run_sweep
import pytest

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

SWEEP = """
timing: {{warmup_reps: 1, warmup_ms: {warmup_ms}, min_reps: 6, max_reps: 6, target_rel_ci: 0.0, budget_s: 10}}
run: {{placement: {placement}, max_retries: 1}}
sweeps:
  - name: c
    grid: {{batch: [1], heads: [2], seq_len: [{seqs}], head_dim: [8], dtype: [float32], backend: [math]}}
"""


def run(write_config, tmp_path, placement, seqs="16, 24, 32, 40", warmup_ms=0):
    """warmup_ms makes each job last that long, so a node can be taken away mid-run."""
    path = write_config(SWEEP.format(placement=placement, seqs=seqs, warmup_ms=warmup_ms))
    run_sweep(load_config(path), path.read_text(), tmp_path / placement, address=None)
    return load_results(tmp_path / placement)


def test_every_device_runs_each_job_once_per_device_across_nodes(two_node_cluster, write_config, tmp_path):
    cluster, worker_node = two_node_cluster
    frame = run(write_config, tmp_path, "every_device")
    assert len(frame) == 8 and frame["job_id"].is_unique and (frame["status"] == "ok").all()
    # both nodes' GPUs are "cuda:0" on the same host: still two devices, told apart by node
    assert frame.groupby("node")["seq_len"].apply(sorted).to_dict() == {
        cluster.head_node.node_id: [16, 24, 32, 40], worker_node.node_id: [16, 24, 32, 40]}
    assert set(frame["device"]) == {"cuda:0"} and frame["hostname"].nunique() == 1


def test_one_per_model_and_spread_run_each_job_once(two_node_cluster, write_config, tmp_path):
    for placement in ("one_per_model", "spread"):
        frame = run(write_config, tmp_path, placement, seqs="16, 24, 32, 40, 48, 56")
        assert len(frame) == 6 and frame["job_id"].is_unique and (frame["status"] == "ok").all()
        assert sorted(frame["seq_len"]) == [16, 24, 32, 40, 48, 56]
        assert frame["node"].nunique() == 2  # both devices took work from the shared queue


def remove_when_rows(cluster, node, journal, rows):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= rows:
            cluster.remove_node(node, allow_graceful=False)
            return
        time.sleep(0.05)


def run_losing_a_node(two_node_cluster, write_config, tmp_path, placement, points, after_rows):
    """Run `points` jobs of 300 ms each; the worker node is removed once `after_rows` rows are in."""
    cluster, worker_node = two_node_cluster
    seqs = ", ".join(str(16 + 8 * i) for i in range(points))
    remover = threading.Thread(target=remove_when_rows,
                               args=(cluster, worker_node, tmp_path / placement / "results.jsonl", after_rows))
    remover.start()
    frame = run(write_config, tmp_path, placement, seqs, warmup_ms=300)
    remover.join()
    return frame


def test_a_node_leaving_mid_run_costs_only_its_device(two_node_cluster, write_config, tmp_path):
    cluster, worker_node = two_node_cluster
    frame = run_losing_a_node(two_node_cluster, write_config, tmp_path, "every_device", points=10, after_rows=4)
    assert len(frame) == 20 and frame["job_id"].is_unique  # every job accounted for exactly once
    head = frame[frame["node"] == cluster.head_node.node_id]
    lost = frame[frame["node"] == worker_node.node_id]
    assert (head["status"] == "ok").all() and len(head) == 10  # the other node never noticed
    assert set(lost["status"]) <= {"ok", "crashed"} and (lost["status"] == "crashed").any()
    assert lost[lost["status"] == "crashed"]["error"].str.contains("gone|died").all()


def test_with_spread_a_lost_nodes_job_is_run_elsewhere(two_node_cluster, write_config, tmp_path):
    frame = run_losing_a_node(two_node_cluster, write_config, tmp_path, "spread", points=12, after_rows=3)
    assert len(frame) == 12 and frame["job_id"].is_unique
    assert (frame["status"] == "ok").all()  # the in-flight job went back to the shared queue
