"""The varlen_prefill job on the CPU: SDPA over the padded batch and a candidate over the packed one
pass the float64 reference; one that lets sequences see each other fails; the FLOP count by hand."""
import pytest

from jobs.output_check import BadOutput
from jobs.varlen_prefill import VarlenParams, varlen_prefill
from orchestrator.cli import main
from tests.conftest import FAST, context

CANDIDATES = {"right": "tests.candidates:varlen_right", "one_document": "tests.candidates:varlen_one_document"}


def point(**kw) -> VarlenParams:
    base = dict(batch=3, seq_len=150, seq_lens="uniform", seq_min=20, heads=4, kv_heads=2, head_dim=16,
                dtype="float32", backend="default")
    return VarlenParams(**{**base, **kw}).resolved(CANDIDATES)


@pytest.mark.parametrize("backend", ["default", "math", "flash", "right"])
def test_varlen_prefill_passes_the_reference(backend):
    m = varlen_prefill(point(backend=backend), context(FAST)).metrics
    assert m["tflops"] > 0 and m["err_ratio"] <= 2
    assert m["cache_layout"] == ("packed" if backend == "right" else "padded")


@pytest.mark.integration  # inductor compiles flex in worker processes of its own
def test_flex_runs_the_packed_batch_with_a_document_mask():
    m = varlen_prefill(point(backend="flex"), context(FAST)).metrics
    assert m["err_ratio"] <= 2 and m["compile_s"] > 0


def test_sequences_that_see_each_other_fail_before_they_are_timed():
    with pytest.raises(BadOutput, match="wrong output"):
        varlen_prefill(point(backend="one_document"), context(FAST))


def test_flops_count_the_real_tokens_causally():
    m = varlen_prefill(point(seq_lens="equal", seq_min=None, batch=2, seq_len=10), context(FAST)).metrics
    assert m["tokens"] == 20 and m["flops"] == 4 * 4 * 16 * 55 * 2  # 1 + ... + 10 pairs per sequence


def test_a_mix_whose_shortest_is_longer_than_its_longest_is_one_line_exit_2(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("sweeps: [{name: v, job: varlen_prefill, grid: {batch: [2], seq_len: [64], seq_lens: [uniform], "
                      "seq_min: [65], heads: [4], head_dim: [16], dtype: [float32], backend: [math]}}]\n")
    assert main(["run", "-c", str(config), "-o", str(tmp_path / "run")]) == 2
    assert "seq_min=65 is more than seq_len=64" in capsys.readouterr().err
