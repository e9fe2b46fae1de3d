"""The decode job on the CPU: every implementation that runs here, over a dense and a shuffled paged
cache, checked against the float64 reference; the byte model by hand; candidates that ignore the
page table or attend past a sequence's end fail; bad points are one line, exit 2; setup is not timed."""
import time

import pytest
import torch

from jobs import decode as decode_job
from jobs.decode import DecodeParams, byte_model, decode, step_inputs
from jobs.output_check import BadOutput
from orchestrator.cli import main
from tests.conftest import FAST, context

CANDIDATES = {name: f"tests.candidates:decode_{name}" for name in ("right", "ignores_page_table", "attends_past_length")}


def point(**kw) -> DecodeParams:
    base = dict(batch=3, kv_len=50, q_tokens=1, kv_lens="uniform", kv_min=10, heads=4, kv_heads=2, head_dim=16,
                dtype="float32", backend="default")
    return DecodeParams(**{**base, **kw}).resolved(CANDIDATES)


@pytest.mark.parametrize("q_tokens", [1, 3])
@pytest.mark.parametrize("backend,page_size", [("default", None), ("math", None), ("flash", None), ("right", None),
                                               ("right", 16), ("right", 7)])
def test_each_implementation_decodes_and_passes_the_reference(backend, page_size, q_tokens):
    m = decode(point(backend=backend, page_size=page_size, q_tokens=q_tokens), context(FAST)).metrics
    assert m["gbs"] > 0 and m["tokens_per_s"] > 0 and m["err_ratio"] <= 2
    assert m["cache_layout"] == ("dense padded" if page_size is None else f"paged {page_size}")


@pytest.mark.integration  # inductor compiles flex in worker processes of its own
@pytest.mark.parametrize("page_size", [None, 16])
def test_flex_decodes_a_dense_and_a_paged_cache(page_size):
    m = decode(point(backend="flex", page_size=page_size, q_tokens=3), context(FAST)).metrics
    assert m["compile_s"] > 0 and m["err_ratio"] <= 2 and "FlexAttention" in m["kernel_path"]


@pytest.mark.parametrize("bug", ["ignores_page_table", "attends_past_length"])
def test_a_kernel_that_misreads_the_pages_fails_before_it_is_timed(bug):
    with pytest.raises(BadOutput, match="wrong output: max abs err"):
        decode(point(backend=bug, page_size=16), context(FAST))


def test_the_page_table_is_shuffled_and_unused_slots_hold_random_values():
    _, cache, _ = step_inputs(point(page_size=16, batch=8, kv_len=200), 0, torch.device("cpu"))
    used = torch.cat([cache.page_table[b, :(int(n) + 15) // 16] for b, n in enumerate(cache.lengths)])
    assert sorted(used.tolist()) == list(range(len(used)))  # every page once
    assert used.tolist() != sorted(used.tolist())  # but not in order
    last, b = cache.page_table[0, (int(cache.lengths[0]) - 1) // 16], 0
    tail = cache.pages_k[last, int(cache.lengths[b]) % 16:]
    assert tail.numel() == 0 or (tail != 0).all()


def test_the_byte_model_by_hand():
    p = point(kv_lens="equal", kv_min=None, batch=2, kv_len=40, q_tokens=2, heads=4, kv_heads=2, head_dim=16)
    q, cache, _ = step_inputs(p, 0, torch.device("cpu"))
    moved, kv_tokens, flops = byte_model(p, cache, q)
    assert kv_tokens == 80
    # q read + o written: 2 x (2 x 2 x 4 x 16) x 4 B; k and v: 2 x 80 x 2 x 16 x 4 B
    assert moved == 2 * (2 * 2 * 4 * 16) * 4 + 2 * 80 * 2 * 16 * 4
    # each sequence: token 0 sees 39 keys, token 1 sees 40: 79 pairs, x2 sequences, 4 x H x D each
    assert flops == 4 * 4 * 16 * 79 * 2


def test_setup_is_never_timed(monkeypatch):
    quick = decode(point(), context(FAST)).metrics
    prepare = decode_job.prepare

    def slow_prepare(*args):
        time.sleep(2.0)  # a plan or a compile that takes its time
        return prepare(*args)
    monkeypatch.setattr(decode_job, "prepare", slow_prepare)
    slow = decode(point(), context(FAST)).metrics
    assert slow["setup_s"] >= 2.0 > quick["setup_s"]
    for key in ("median_ms", "warmup_ms", "window_ms"):  # the 2 s are in none of them
        assert slow[key] < quick[key] + 500, key
    assert (slow["bytes_moved"], slow["kv_tokens"], slow["max_abs_err"]) == (quick["bytes_moved"], quick["kv_tokens"],
                                                                            quick["max_abs_err"])


GOOD = ("sweeps: [{name: d, job: decode, grid: {batch: [2], kv_len: [64], heads: [4], head_dim: [16], "
        "dtype: [float32], backend: [math]}}]\n")


@pytest.mark.parametrize("edit,message", [
    (("heads: [4], head_dim: [16]", "model: [llama-9b]"), "grid.model[0]: 'llama-9b' is not allowed; choose one of: "
                                                         "llama-3.1-8b"),
    (("heads: [4], head_dim: [16]", "model: [llama-3.1-8b], tp: [3]"), "tp=3 does not divide llama-3.1-8b's 32 query heads"),
    (("kv_len: [64]", "kv_len: [64], page_size: [0]"), "grid.page_size[0]: 0 is not allowed; it must be >= 1"),
    (("kv_len: [64]", "kv_len: [4], q_tokens: [8]"), "q_tokens=8 is more than the shortest sequence (4 keys)"),
    (("kv_len: [64]", "kv_len: [64], kv_lens: [uniform], kv_min: [100]"), "kv_min=100 is more than kv_len=64"),
    (("kv_len: [64]", "kv_len: [64], seq_len: [4]"), "grid.seq_len: unknown key; job decode takes the axes: batch"),
])
def test_a_bad_decode_point_is_one_line_exit_2(edit, message, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(GOOD.replace(*edit))
    assert main(["run", "-c", str(config), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "run").exists()


def test_a_model_gives_one_gpus_heads():
    p = DecodeParams(batch=1, kv_len=64, model="llama-3.1-70b", tp=8, dtype="bfloat16", backend="math").resolved({})
    assert (p.heads, p.kv_heads, p.head_dim) == (8, 1, 128)
    assert "[llama-3.1-70b tp8]" in p.label()


@pytest.mark.integration  # inductor compiles in worker processes of its own
def test_a_point_flex_cannot_compile_is_unsupported_with_the_compilers_reason():
    """A real compile failure: torch 2.13's CPU flex codegen fails on a BlockMask without full
    blocks at this size (it names `full_kv_num_blocks`, which it never declared)."""
    from torch.nn.attention.flex_attention import BlockMask

    from jobs.backends import compiled_flex
    from jobs.contract import Unsupported

    q, k = torch.randn(1, 8, 1, 64), torch.randn(1, 2, 1024, 64)
    blocks = torch.arange(64, dtype=torch.int32)[None, None, None, :]
    mask = BlockMask.from_kv_blocks(torch.full((1, 1, 1), 64, dtype=torch.int32), blocks, BLOCK_SIZE=(128, 16),
                                    mask_mod=lambda b, h, i, j: j >= 0, seq_lengths=(1, 1024))
    try:
        compiled_flex()(q, k, k, block_mask=mask, enable_gqa=True)
    except Unsupported as err:
        assert str(err).startswith("flex could not compile this point (InductorError: ") and "error" in str(err)
    else:
        pytest.skip("this torch compiles the point: the failure this test needs is fixed")
