"""Config loading: every shipped config loads; every bad one is refused with one clear message,
exit code 2, no traceback, and nothing started or created."""

import pytest

from orchestrator.cli import main
from orchestrator.config import load_config
from orchestrator.sweep import expand_config
from tests.conftest import ROOT, run_cli

GOOD = """
sweeps:
  - name: s
    grid: {batch: [1], heads: [4], seq_len: [16], head_dim: [8], dtype: [float32], backend: [math]}
"""


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads_and_expands(path):
    config = load_config(path)
    assert expand_config(config)


def test_tutorial_shape_is_in_the_default_config_for_every_backend():
    points = [j.spec.params for j in expand_config(load_config(ROOT / "configs" / "default.yaml"))
              if j.device_type == "cuda" and j.spec.job == "sdpa_benchmark"]
    tutorial = [p for p in points if (p.batch, p.heads, p.seq_len, p.head_dim, p.dtype) == (32, 32, 2048, 224, "float16")]
    assert {p.backend for p in tutorial} == {"default", "math", "flash", "efficient", "cudnn", "fa4", "flex"}


def test_a_scalar_stands_for_a_one_element_list(write_config):
    config = load_config(write_config(GOOD.replace("batch: [1]", "batch: 3")))
    assert config.sweeps[0].grid["batch"] == (3,)


BAD = [
    (GOOD.replace("head_dim: [8]", "head_dim: [0]"), "config.sweeps[0].grid.head_dim[0]: 0 is not allowed; it must be >= 1"),
    (GOOD.replace("dtype: [float32]", "dtype: [float8]"), "config.sweeps[0].grid.dtype[0]: 'float8' is not allowed; choose one of: float16, bfloat16, float32"),
    (GOOD.replace("backend: [math]", "backend: [flashy]"), "config.sweeps[0].grid.backend[0]: 'flashy' is not allowed; choose one of: default, math, flash"),
    (GOOD.replace("seq_len: [16]", "seqlen: [16]"), "config.sweeps[0].grid.seqlen: unknown key; job sdpa_benchmark takes the axes: batch, heads, seq_len"),
    (GOOD.replace("batch: [1]", "batch: []"), "config.sweeps[0].grid.batch: empty list; give at least one value"),
    (GOOD.replace("batch: [1]", "batch: [two]"), "config.sweeps[0].grid.batch[0]: 'two' is not a int"),
    (GOOD.replace("batch: [1]", "batch: [true]"), "config.sweeps[0].grid.batch[0]: True is not a int"),
    (GOOD.replace("heads: [4]", "heads: [4], kv_heads: [3]"), "config.sweeps[0].grid: heads=4 is not a multiple of kv_heads=3"),
    (GOOD + "run: {placement: everywhere}\n", "config.run.placement: 'everywhere' is not allowed; choose one of: every_device"),
    (GOOD + "timing: {budget_s: fast}\n", "config.timing.budget_s: 'fast' is not a float"),
    (GOOD + "timing: {min_reps: 50, max_reps: 10}\n", "config.timing.min_reps: 50 is more than max_reps=10"),
    (GOOD + "extra: 1\n", "config.extra: unknown key; valid keys are: sweeps, run, timing"),
    ("sweeps: []\n", "config.sweeps: empty list; give at least one value"),
    ("run: {seed: 1}\n", "config.sweeps: missing; this field is required"),
    ("sweeps: [\n", "not valid YAML"),
    (GOOD + GOOD.replace("sweeps:\n", ""), "config.sweeps: sweep names must be unique"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_config_is_refused_with_a_message_naming_the_field(text, message, write_config, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(["run", "-c", str(write_config(text)), "-o", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1  # one message, one line
    assert not run_dir.exists()  # nothing started, nothing created


@pytest.mark.integration
def test_bad_config_from_the_command_line_exits_2_without_traceback(write_config, tmp_path):
    proc = run_cli("run", "-c", str(write_config(BAD[0][0])), "-o", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert "head_dim[0]: 0 is not allowed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_missing_config_file_and_missing_run_dir(tmp_path, capsys):
    assert main(["run", "-c", str(tmp_path / "nope.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no manifest.json here" in capsys.readouterr().err


NAMED = GOOD.replace("backend: [math]", "backend: [math, mine]") + "candidates: {mine: 'tests.candidates:right'}\n"


@pytest.mark.parametrize("text,message", [
    (GOOD.replace("name: s", "name: ''"), "config.sweeps[0].name: '' is not allowed; a name is 1 to 64 letters"),
    (GOOD.replace("name: s", "name: '<script>x</script>'"), "config.sweeps[0].name: '<script>x</script>' is not allowed"),
    (GOOD.replace("name: s", "name: 'a|b'"), "config.sweeps[0].name: 'a|b' is not allowed"),
    (GOOD.replace("name: s", "name: '=cmd'"), "config.sweeps[0].name: '=cmd' is not allowed"),
    (GOOD.replace("name: s", "name: \"a\\nb\""), "config.sweeps[0].name: 'a\\nb' is not allowed"),
    (GOOD.replace("name: s", f"name: {'s' * 65}"), "is not allowed; a name is 1 to 64 letters"),
    (NAMED.replace("mine", "'$\\frac{$'"), "config.candidates: '$\\\\frac{$' is not allowed as a name; a name is 1 to 64"),
    (NAMED.replace("mine", "''"), "config.candidates: '' is not allowed as a name"),
    (NAMED.replace("tests.candidates:right", "tests.candidates:"), "config.candidates.mine: 'tests.candidates:' is not allowed"),
    (NAMED.replace("tests.candidates:right", ":right"), "config.candidates.mine: ':right' is not allowed"),
    (NAMED.replace("tests.candidates:right", "tests candidates:right"), "config.candidates.mine: 'tests candidates:right' is not"),
    (NAMED.replace("tests.candidates:right", "tests.candidates:right:x"), "config.candidates.mine: 'tests.candidates:right:x'"),
])
def test_names_are_what_every_output_can_carry(text, message, write_config, tmp_path, capsys):
    assert main(["run", "-c", str(write_config(text)), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_names_of_letters_digits_and_punctuation_load(write_config):
    config = load_config(write_config(NAMED.replace("name: s", "name: fa_style-v2.1").replace("mine", "my_kernel.v2")))
    assert config.sweeps[0].name == "fa_style-v2.1" and list(config.candidates) == ["my_kernel.v2"]
