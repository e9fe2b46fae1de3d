"""Fan-out over devices with real Ray: two fake GPUs, two workers, every job on both."""
import json

from analysis import load_results
from orchestrator.cluster import start_workers
from orchestrator.config import MemoryBudget, load_config
from orchestrator.launch import run_sweep
import pytest

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess

CONFIG = """
sweeps:
  - name: fan
    grid: {batch: [1], heads: [2], seq_len: [16, 24], head_dim: [8], dtype: [float32], backend: [math, flash]}
"""


def test_one_worker_per_fake_gpu(ray_fake_gpus):
    workers = start_workers(load_config_timing(), MemoryBudget(), max_restarts=0)
    try:
        assert sorted(info.device for _, info in workers) == ["cuda:0", "cuda:1"]
        assert {info.compute for _, info in workers} == {"cpu"}  # no CUDA here: fake slots compute on CPU
        # each worker is its own process and Ray narrowed its CUDA_VISIBLE_DEVICES to its one GPU
        assert len({info.pid for _, info in workers}) == 2
        assert {info.device: info.cuda_visible_devices for _, info in workers} == {"cuda:0": "0", "cuda:1": "1"}
    finally:
        for w, _ in workers:
            ray_fake_gpus.kill(w)


def load_config_timing():
    from base.settings import TimingConfig
    return TimingConfig(warmup_reps=1, warmup_ms=0, min_reps=3, max_reps=5, min_timed_ms=0, budget_s=0.1)


def test_every_job_runs_on_every_device(ray_fake_gpus, write_config, tmp_path):
    path = write_config(CONFIG)
    run_dir = tmp_path / "run"
    report = run_sweep(load_config(path), path.read_text(), run_dir, address=None).report
    frame = load_results(run_dir)
    assert len(frame) == 2 * 4  # 4 points x 2 devices
    assert (frame["status"] == "ok").all()
    per_device = frame.groupby("device")["job_id"].nunique()
    assert per_device.to_dict() == {"cuda:0": 4, "cuda:1": 4}
    assert frame["job_id"].is_unique
    # the same point on the two devices: same spec, different job ids
    assert frame.groupby(["seq_len", "backend"])["device"].nunique().eq(2).all()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert len(manifest["sessions"][0]["devices"]) == 2
    assert "cuda:0" in report.read_text() and "cuda:1" in report.read_text()
