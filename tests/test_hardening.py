"""Faults and hostile input found by an adversarial pass, each produced for real: candidate
kernels that raise KeyboardInterrupt or SystemExit, return None or NaN, overwrite their inputs or
flip process-wide switches; empty journals; duplicate points; edited configs on resume."""
import pytest

from analysis import load_results
from orchestrator.cli import main
from orchestrator.config import load_config
from orchestrator.launch import run_sweep
from orchestrator.sweep import expand_config
from tests.conftest import run_cli, synthetic_row, write_run

POINT = "batch: [1], heads: [2], seq_len: [16], head_dim: [8], dtype: [float32]"


def sweep(write_config, tmp_path, text):
    path = write_config(text)
    run_sweep(load_config(path), path.read_text(), tmp_path / "run", address=None)
    return load_results(tmp_path / "run")


def candidates_config(*names: str, after: str = "math") -> str:
    """Each named candidate from tests/candidates.py, then a plain point on the same worker."""
    cands = ", ".join(f"{n}: 'tests.candidates:{n}'" for n in names)
    return f"""
candidates: {{{cands}}}
sweeps:
  - {{name: cand, grid: {{{POINT}, backend: [{', '.join(names)}]}}}}
  - {{name: after, grid: {{{POINT}, backend: [{after}], mode: [fwd_bwd]}}}}
"""


def test_a_kernel_raising_keyboardinterrupt_or_systemexit_costs_that_job_only(ray_fake_gpus, write_config, tmp_path,
                                                                              capsys):
    frame = sweep(write_config, tmp_path, candidates_config("interrupts", "exits"))
    cand = frame[frame["sweep"] == "cand"]
    assert len(cand) == 4 and set(cand["status"]) == {"crashed"} and (cand["attempt"] == 1).all()
    assert set(cand.loc[cand["backend"] == "interrupts", "error"].str.split("\n").str[0]) == {
        "the job raised KeyboardInterrupt: a kernel that raises KeyboardInterrupt"}
    assert set(cand.loc[cand["backend"] == "exits", "error"].str.split("\n").str[0]) == {"the job raised SystemExit: 0"}
    after = frame[frame["sweep"] == "after"]
    assert len(after) == 2 and (after["status"] == "ok").all()  # the next job ran, on each device
    assert capsys.readouterr().out.count("restarting the worker") == 4  # each of them restarted it


@pytest.mark.parametrize("name,message", [
    ("returns_none", "BadOutput: the output is NoneType, not a tensor"),
    ("returns_nan", "BadOutput: the output has NaN or Inf where attention has finite values"),
    ("returns_transposed", "BadOutput: the output is torch.float32 (1, 16, 2, 8); expected torch.float32 (1, 2, 16, 8)"),
    ("overwrites_inputs", "BadOutput: the call changed its inputs"),
    ("right_then_none", "BadOutput: timed rep 1 returned NoneType, not what the checked probe call returned"),
])
def test_a_kernel_whose_output_is_not_attention_is_an_error_row_never_a_timing(name, message, ray_fake_gpus,
                                                                               write_config, tmp_path):
    frame = sweep(write_config, tmp_path, candidates_config(name))
    cand = frame[frame["sweep"] == "cand"]
    assert set(cand["status"]) == {"error"} and cand["median_ms"].isna().all()
    assert all(e.startswith(message) for e in cand["error"]), cand["error"].tolist()


@pytest.mark.parametrize("name,setting", [("turns_flash_off", "'flash_sdp': False"),
                                          ("lowers_matmul_precision", "'float32_matmul_precision': 'medium'")])
def test_process_wide_switches_left_behind_restart_the_worker(name, setting, ray_fake_gpus, write_config, tmp_path,
                                                              capsys):
    frame = sweep(write_config, tmp_path, candidates_config(name, after="flash"))
    said = [line for line in capsys.readouterr().out.splitlines() if "restarting the worker" in line]
    assert len(said) == 2 and all(setting in line for line in said), said
    after = frame[frame["sweep"] == "after"]
    assert (after["status"] == "ok").all()  # flash still runs after a kernel turned it off: a fresh worker


def test_a_failure_outside_the_job_is_that_jobs_error_row(ray_fake_gpus, write_config, tmp_path, capsys):
    """The candidate breaks a torch function the worker's soundness check calls after the job."""
    frame = sweep(write_config, tmp_path, candidates_config("sabotages_torch"))
    cand = frame[frame["sweep"] == "cand"]
    assert set(cand["status"]) == {"error"}
    assert all(e.startswith("the worker failed around the job: ZeroDivisionError") for e in cand["error"])
    assert (frame[frame["sweep"] == "after"]["status"] == "ok").all()
    assert capsys.readouterr().out.count("restarting the worker") == 2


def test_undeclared_metrics_are_an_error_row_naming_the_key(ray_fake_gpus, write_config, tmp_path):
    frame = sweep(write_config, tmp_path, f"""
sweeps:
  - {{name: f, job: fault_injection, grid: {{{POINT}, backend: [math], fault: [undeclared, none]}}}}
""")
    bad = frame[frame["fault"] == "undeclared"]
    assert set(bad["status"]) == {"error"} and bad["median_ms"].isna().all()
    assert all("returned 'speed_furlongs', a metric its Metrics does not declare" in e for e in bad["error"])
    assert set(frame.loc[frame["fault"] == "none", "status"]) == {"ok"}


@pytest.mark.parametrize("grid,jobs", [("backend: [math, math, flash]", 2),
                                       ("heads: [2], kv_heads: [null, 2], backend: [math]", 1),
                                       ("backend: [math], causal: [false], mask: [is_causal, bool]", 1),
                                       ("backend: [math], flash_impl: [builtin, FA4]", 1),
                                       ("backend: [flash], flash_impl: [builtin, FA4, FA4]", 2)])
def test_points_are_distinct_after_defaults_are_resolved(grid, jobs, write_config):
    text = f"sweeps: [{{name: s, grid: {{batch: [1], seq_len: [16], head_dim: [8], dtype: [float32], {grid}" + \
        (", heads: [2]" if "heads" not in grid else "") + "}}]\nrun: {measure_ceilings: false}\n"
    specs = [j.spec for j in expand_config(load_config(write_config(text)))]
    assert len(specs) == len(set(specs)) == jobs


def test_an_empty_run_has_a_report_that_says_so(tmp_path):
    run_dir = write_run(tmp_path / "empty", [])
    (run_dir / "results.jsonl").write_text('{"job_id": "torn", "sta')  # only a torn line
    with pytest.warns(UserWarning, match="torn last line"):
        assert main(["report", str(run_dir)]) == 0
    report = (run_dir / "report.md").read_text()
    assert "**This run has no finished job**" in report and "No timed benchmark point" in report


@pytest.mark.integration
def test_a_gpu_only_config_on_a_cluster_without_gpus_ends_with_an_empty_report(tmp_path):
    config = tmp_path / "gpu.yaml"
    config.write_text(f"sweeps: [{{name: g, device_type: cuda, grid: {{{POINT}, backend: [math]}}}}]\n")
    proc = run_cli("run", "-c", str(config), "-o", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 jobs on 1 worker(s)" in proc.stdout
    assert "**This run has no finished job**" in (tmp_path / "run" / "report.md").read_text()


def test_compare_with_nothing_in_common_is_bad_input_not_a_verdict(tmp_path, capsys):
    a = write_run(tmp_path / "a", [synthetic_row(seq_len=1, median_ms=1.0, iqr_ms=0.0, tflops=1.0)])
    b = write_run(tmp_path / "b", [synthetic_row(seq_len=2, median_ms=1.0, iqr_ms=0.0, tflops=1.0)])
    empty = write_run(tmp_path / "empty", [])
    for other in (b, empty):
        assert main(["compare", str(a), str(other)]) == 2
        err = capsys.readouterr().err
        assert "no timed point in common" in err and err.count("\n") == 1


def test_a_2_mb_exception_costs_neither_the_journal_the_report_nor_resume(ray_fake_gpus, write_config, tmp_path):
    from base.schema import MAX_ERROR_CHARS

    path = write_config(candidates_config("raises_huge"))
    run_sweep(load_config(path), path.read_text(), tmp_path / "run", address=None)
    journal = tmp_path / "run" / "results.jsonl"
    assert journal.stat().st_size < 100_000  # 4 MB a row before: the message, then again in the traceback
    frame = load_results(tmp_path / "run")
    errors = frame.loc[frame["sweep"] == "cand", "error"]
    assert len(errors) == 2 and (errors.str.len() <= MAX_ERROR_CHARS).all()
    for error in errors:
        assert error.startswith("ValueError: head of the message xxx") and "characters cut" in error
        assert "tail of the message" in error and "raises_huge" in error  # the traceback's tail is kept
    assert "**error** `raises_huge` ×2: ValueError: head of the message" in (tmp_path / "run" / "report.md").read_text()
    outcome = run_sweep(load_config(path), path.read_text(), tmp_path / "run", address=None, resume=True)
    assert outcome.report.exists() and len(journal.read_text().splitlines()) == 4  # nothing ran twice
