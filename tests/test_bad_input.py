"""Hostile input: every case is one line naming what is wrong and how to fix it, exit code 2, no
traceback, nothing started and nothing lost. Numbers the journal cannot hold, NaN and infinity,
non-UTF-8 and alias-bomb configs, run directories that are files, full or read-only, or not runs,
edited configs and corrupt journals on --resume."""
import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.cli import main
from tests.conftest import synthetic_row, write_run

GOOD = """
run: {measure_ceilings: false}
timing: {warmup_reps: 1, warmup_ms: 0, min_reps: 6, max_reps: 6, min_timed_ms: 0, budget_s: 1}
sweeps:
  - name: s
    grid: {batch: [1], heads: [2], seq_len: [16, 24], head_dim: [8], dtype: [float32], backend: [math]}
"""


def refused(capsys, argv: list[str], message: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("edit,message", [
    (("run: {measure_ceilings: false}", "run: {measure_ceilings: false, seed: 9223372036854775808}"),
     "config.run.seed: 9223372036854775808 is not allowed; it must fit in 64 bits"),
    (("batch: [1]", "batch: [100000000000000000000]"), "config.sweeps[0].grid.batch[0]: 100000000000000000000 is not"),
    (("budget_s: 1", "budget_s: .nan"), "config.timing.budget_s: nan is not allowed; give a finite number"),
    (("warmup_ms: 0", "warmup_ms: .inf"), "config.timing.warmup_ms: inf is not allowed; give a finite"),
    (("run: {measure_ceilings: false}", "run: {job_timeout_s: .inf}"), "config.run.job_timeout_s: inf is not allowed"),
    (("run: {measure_ceilings: false}", "run: {job_timeout_s: 1.0e+300}"), "config.run.job_timeout_s: 1e+300 is not allowed; it must be <="),
    (("budget_s: 1", "budget_s: -.inf"), "config.timing.budget_s: -inf is not allowed"),
    (("seq_len: [16, 24]", "seq_len: [16, 3000000000]"), "config.sweeps[0].grid.seq_len[1]: 3000000000 is not allowed; it must be <= 2147483647"),
])
def test_numbers_are_finite_and_fit_before_anything_starts(edit, message, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(GOOD.replace(*edit))
    refused(capsys, ["run", "-c", str(config), "-o", str(tmp_path / "run")], message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("threshold", ["nan", "inf", "-1"])
def test_compare_threshold_must_be_a_finite_fraction(threshold, tmp_path, capsys):
    a = write_run(tmp_path / "a", [synthetic_row(median_ms=1.0, iqr_ms=0.0, tflops=1.0)])
    refused(capsys, ["compare", str(a), str(a), "--threshold", threshold], f"--threshold {float(threshold)}")


def test_a_config_that_is_not_utf8(tmp_path, capsys):
    config = tmp_path / "latin1.yaml"
    config.write_bytes(GOOD.replace("name: s", "name: s\xe9").encode("latin-1"))
    refused(capsys, ["run", "-c", str(config), "-o", str(tmp_path / "run")], "not UTF-8 text")


def test_a_yaml_alias_bomb_is_refused_in_one_short_line(tmp_path, capsys):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    config = tmp_path / "bomb.yaml"
    config.write_text(bomb + "sweeps: *i\n")
    err = refused(capsys, ["run", "-c", str(config), "-o", str(tmp_path / "run")], "YAML aliases (*name) are not allowed")
    assert len(err) < 300


def test_output_at_a_file_under_a_file_and_at_a_directory_that_is_not_a_run(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(GOOD)
    afile = tmp_path / "afile"
    afile.write_text("mine")
    refused(capsys, ["run", "-c", str(config), "-o", str(afile)], "is a file, not a directory")
    refused(capsys, ["run", "-c", str(config), "-o", str(afile / "run")], "cannot write the run directory")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("my own notes")
    refused(capsys, ["run", "-c", str(config), "-o", str(mine)], "not empty and not a run")
    assert afile.read_text() == "mine" and (mine / "config.yaml").read_text() == "my own notes"


@pytest.fixture
def small_fs(tmp_path):
    """A real tmpfs of 64 KiB (root can mount one); skipped where this process cannot."""
    mount = tmp_path / "fs"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_read_only_filesystem(small_fs, tmp_path, capsys):
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    config = tmp_path / "c.yaml"
    config.write_text(GOOD)
    refused(capsys, ["run", "-c", str(config), "-o", str(small_fs / "run")], "Read-only file system")


def test_a_full_disk_mid_run_stops_cleanly_and_resume_leaves_no_duplicate_samples(small_fs, tmp_path):
    from tests.conftest import run_cli
    config = tmp_path / "c.yaml"
    config.write_text(GOOD.replace("seq_len: [16, 24]", f"seq_len: [{', '.join(str(s) for s in range(8, 408, 8))}]")
                      .replace("max_reps: 6", "max_reps: 200"))
    run_dir = small_fs / "run"
    proc = run_cli("run", "-c", str(config), "-o", str(run_dir))
    assert proc.returncode == 2, proc.stdout[-1000:] + proc.stderr[-1000:]
    assert "No space left on device; the run stopped" in proc.stderr and "Traceback" not in proc.stderr
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_fs)], check=True)
    proc = run_cli("run", "--resume", str(run_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in (run_dir / "results.jsonl").read_text().splitlines()]
    samples = [line.split('"samples_ms"')[0] for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 50 and len(samples) == len(set(samples)) == 50  # one row and one sample list per job


@pytest.mark.integration
def test_resume_refuses_an_edited_config_and_a_missing_directory(tmp_path, capsys):
    from tests.conftest import run_cli
    config = tmp_path / "c.yaml"
    config.write_text(GOOD)
    run_dir = tmp_path / "run"
    assert run_cli("run", "-c", str(config), "-o", str(run_dir)).returncode == 0
    (run_dir / "config.yaml").write_text(GOOD.replace("max_reps: 6", "max_reps: 60").replace("[16, 24]", "[16, 32]"))
    before = (run_dir / "manifest.json").read_text()
    err = refused(capsys, ["run", "--resume", str(run_dir)], "no longer matches the config its rows were made with")
    assert "config.timing.max_reps: 6 -> 60" in err
    assert (run_dir / "manifest.json").read_text() == before  # the settings behind the old rows are kept
    err = refused(capsys, ["run", "--resume", str(tmp_path / "nope")], "no such run directory")
    assert "-c" not in err


def test_resume_of_a_journal_with_garbage_in_the_middle(tmp_path, capsys):
    run_dir = write_run(tmp_path / "run", [synthetic_row(job_id="a"), synthetic_row(job_id="b")])
    (run_dir / "config.yaml").write_text(GOOD)
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    (run_dir / "results.jsonl").write_text(lines[0] + "\n\x00garbage\n" + lines[1] + "\n")
    refused(capsys, ["run", "--resume", str(run_dir)], "results.jsonl:2: corrupt line in the journal")
    refused(capsys, ["report", str(run_dir)], "results.jsonl:2: corrupt line in the journal")


def test_report_of_a_directory_without_a_manifest(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.jsonl").write_text("")
    refused(capsys, ["report", str(tmp_path / "r")], "no manifest.json here")
    assert not Path(tmp_path / "r" / "report.md").exists() and os.listdir(tmp_path / "r") == ["results.jsonl"]


def refused_in_bounded_memory(capsys, argv: list[str], message: str) -> str:
    """`refused`, and the refusal allocated under 64 MiB: nothing was read whole or expanded."""
    import tracemalloc

    tracemalloc.start()
    try:
        err = refused(capsys, argv, message)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, peak
    return err


def test_a_grid_of_millions_of_points_is_counted_not_expanded(tmp_path, capsys):
    hundred, four_hundred = (", ".join(str(i) for i in range(1, n + 1)) for n in (100, 400))
    config = tmp_path / "huge.yaml"
    config.write_text(GOOD + f"""  - name: huge
    grid: {{batch: [{hundred}], heads: [{hundred}], seq_len: [{four_hundred}], head_dim: [8], dtype: [float32],
           backend: [math]}}
""")
    assert config.stat().st_size < 25_000
    err = refused_in_bounded_memory(capsys, ["run", "-c", str(config), "-o", str(tmp_path / "run")],
                                    "config.sweeps: 4000002 points, more than run.max_jobs=100000")
    assert "sweeps[1] (huge) makes 4000000 of them" in err and not (tmp_path / "run").exists()


def test_run_max_jobs_raises_the_limit(tmp_path):
    from orchestrator.config import load_config
    from orchestrator.sweep import check_size

    axis = ", ".join(str(i) for i in range(1, 401))
    config = tmp_path / "big.yaml"
    config.write_text(GOOD.replace("seq_len: [16, 24]", f"seq_len: [{axis}], batch: [{axis}]").replace(
        "batch: [1], ", "").replace("run: {measure_ceilings: false}", "run: {measure_ceilings: false, max_jobs: 200000}"))
    check_size(load_config(config))  # 160,000 points, under the raised limit: no refusal


@pytest.mark.parametrize("text,message", [
    (GOOD + "run: {seed: 1}\n", "line 7: key 'run' is given twice; keep one"),
    ("[" * 20000 + "]" * 20000 + "\n", "nested more than 32 levels deep"),
    ("- " * 20000 + "x\n", "nested more than 32 levels deep"),
])
def test_duplicate_keys_and_deep_nesting_are_one_line(text, message, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    refused_in_bounded_memory(capsys, ["run", "-c", str(config), "-o", str(tmp_path / "run")], message)


def test_a_2_gb_sparse_config_is_refused_by_its_size_unread(tmp_path, capsys):
    config = tmp_path / "sparse.yaml"
    with open(config, "wb") as f:
        f.write(GOOD.encode())
        f.truncate(2 * 2**30)  # a real 2 GB file, holes after the text
    refused_in_bounded_memory(capsys, ["run", "-c", str(config), "-o", str(tmp_path / "run")],
                              "2147483648 bytes; a config is at most 1048576 bytes")
