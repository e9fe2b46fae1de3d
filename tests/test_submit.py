"""`sdpa-bench submit` against a real `ray start --head` with the dashboard on: a full round trip
through Ray's job API, ending with the run directory and report on the client side."""
import json

import pytest

from tests.conftest import run_cli
from tests.heads import start_head

pytestmark = pytest.mark.integration  # every test here starts Ray or a subprocess


@pytest.fixture(params=["disabled", "token"])
def head_with_dashboard(request):
    yield from start_head(request.param)


@pytest.fixture
def plain_head():
    yield from start_head("disabled")


def test_submit_round_trip_brings_the_run_directory_home(head_with_dashboard, write_config, tmp_path):
    address, env = head_with_dashboard
    config = write_config("""
sweeps:
  - name: remote
    grid: {batch: [1], heads: [2], seq_len: [16, 24], head_dim: [8], dtype: [float32], backend: [math, flash]}
""")
    run_dir = tmp_path / "home"
    proc = run_cli("submit", "--address", address, "-c", str(config), "-o", str(run_dir), env=env, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "sdpa-bench: 4/4 done (100%)" in proc.stdout  # the job's progress, streamed as it ran
    assert "SUCCEEDED; run directory in" in proc.stdout
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    assert "| GPU model | math | flash |" in (run_dir / "report.md").read_text()
    assert (run_dir / "results.parquet").exists() and (run_dir / "manifest.json").exists()
    if env["RAY_AUTH_MODE"] == "token":  # and the token is really required
        no_token = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN"}
        proc = run_cli("submit", "--address", address, "-c", str(config), "-o", str(tmp_path / "denied"),
                       env=no_token, timeout=120)
        assert proc.returncode != 0 and not (tmp_path / "denied" / "results.jsonl").exists()
        assert "auth" in (proc.stdout + proc.stderr).lower(), proc.stderr[-2000:]


def test_submit_refuses_a_bad_config_before_sending_anything(write_config, tmp_path):
    proc = run_cli("submit", "--address", "http://127.0.0.1:1", "-c", str(write_config("sweeps: []\n")),
                   "-o", str(tmp_path / "x"))
    assert proc.returncode == 2 and "config.sweeps: empty list" in proc.stderr


def test_an_embedded_run_starts_its_own_ray_even_beside_a_running_cluster(plain_head, write_config, tmp_path):
    """A bare ray.init() would attach to the `ray start` cluster (and refuse our object store
    size); `sdpa-bench run` without --address must start an instance of its own."""
    address, env = plain_head
    config = write_config("""
sweeps:
  - name: local
    grid: {batch: [1], heads: [2], seq_len: [16], head_dim: [8], dtype: [float32], backend: [math]}
""")
    proc = run_cli("run", "-c", str(config), "-o", str(tmp_path / "local"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len((tmp_path / "local" / "results.jsonl").read_text().splitlines()) == 1
