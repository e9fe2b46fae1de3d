"""device_ceilings on the CPU, and % of peak against hand-computed cases."""
import math

from analysis.frame import load_runs
from base.settings import TimingConfig
from jobs import JOBS
from jobs.ceilings import device_ceilings
from orchestrator.config import Config, RunConfig
from orchestrator.sweep import ceilings_job
from tests.conftest import context, synthetic_row as row, write_run

FAST = TimingConfig(warmup_reps=1, warmup_ms=0, min_reps=6, max_reps=6, target_rel_ci=0.5, min_timed_ms=0, budget_s=1)


def test_ceilings_job_measures_every_dtype_and_copy_bandwidth():
    spec = ceilings_job(Config(sweeps=(), run=RunConfig())).spec
    metrics = device_ceilings(spec.params, context(FAST)).metrics
    measured = {"ceiling_float16_tflops", "ceiling_bfloat16_tflops", "ceiling_float32_tflops", "ceiling_copy_gbs"}
    assert all(metrics[k] > 0 and math.isfinite(metrics[k]) for k in measured)
    assert metrics["ceiling_read_gbs"] is None  # the read kernel is a GPU's (Triton): none on a CPU
    assert set(metrics) == set(JOBS["device_ceilings"].metric_types())  # exactly what it declares


def test_pct_of_peak_uses_the_rows_own_device_and_dtype(tmp_path):
    rows = [row(job="device_ceilings", ceiling_float16_tflops=800.0, ceiling_bfloat16_tflops=400.0),
            row(job="device_ceilings", device="cuda:1", ceiling_float16_tflops=500.0, ceiling_bfloat16_tflops=250.0),
            row(tflops=400.0), row(tflops=100.0, dtype="bfloat16"), row(tflops=400.0, device="cuda:1"),
            row(tflops=50.0, device="cuda:2")]  # cuda:2 has no ceiling measured
    pct = load_runs([write_run(tmp_path / "run", rows)])["pct_of_peak"].tolist()
    assert pct[2:5] == [50.0, 25.0, 80.0]
    assert math.isnan(pct[5])
