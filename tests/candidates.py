"""Candidate attention kernels for the tests: one right, and each of the classic bugs.
Same signature as F.scaled_dot_product_attention for what they use; q (B, H, Sq, D)."""
import torch


def _attend(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False,
            scale_off=False, corner_swap=False, shift=0, softmax_dim=-1):
    if enable_gqa:
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    scores = q @ k.transpose(-2, -1)  # (B, H, Sq, Skv)
    if not scale_off:
        scores = scores * (scale or q.shape[-1] ** -0.5)
    if is_causal:
        sq, skv = scores.shape[-2:]
        diagonal = (skv - sq if corner_swap else 0) + shift
        keep = torch.ones(sq, skv, dtype=torch.bool, device=q.device).tril(diagonal)
        scores = scores.masked_fill(~keep, float("-inf"))
    return torch.softmax(scores.float(), dim=softmax_dim).to(q.dtype) @ v


def right(q, k, v, **kw):
    return _attend(q, k, v, **kw)


def no_scale(q, k, v, **kw):
    return _attend(q, k, v, scale_off=True, **kw)


def wrong_corner(q, k, v, **kw):
    return _attend(q, k, v, corner_swap=True, **kw)


def off_by_one(q, k, v, **kw):
    return _attend(q, k, v, shift=1, **kw)


def softmax_over_queries(q, k, v, **kw):
    return _attend(q, k, v, softmax_dim=-2, **kw)


def raises(q, k, v, **kw):
    raise ValueError("this kernel is not finished")


def disables_grad(q, k, v, **kw):
    """Right, but leaves autograd off for the whole process, as a careless kernel might."""
    torch.set_grad_enabled(False)
    return _attend(q, k, v, **kw)


# Kernels that return something other than attention: each must be an error row, never a timing.
def returns_none(q, k, v, **kw):
    return None


def returns_nan(q, k, v, **kw):
    return torch.full_like(q, float("nan"))


def returns_transposed(q, k, v, **kw):
    return _attend(q, k, v, **kw).transpose(1, 2)  # (B, S, H, D): the wrong layout


def overwrites_inputs(q, k, v, **kw):
    out = _attend(q, k, v, **kw)
    with torch.no_grad():
        q.mul_(0.5)  # scales q in place: every later rep would see other inputs
    return out


# Kernels that leave process-wide state behind: the worker must notice and restart.
def turns_flash_off(q, k, v, **kw):
    torch.backends.cuda.enable_flash_sdp(False)
    return _attend(q, k, v, **kw)


def lowers_matmul_precision(q, k, v, **kw):
    torch.set_float32_matmul_precision("medium")
    return _attend(q, k, v, **kw)


def sabotages_torch(q, k, v, **kw):
    """Replaces a torch function the worker's own soundness check calls: the failure is outside the job."""
    torch.get_num_threads = lambda: 1 / 0
    return _attend(q, k, v, **kw)


def interrupts(q, k, v, **kw):
    raise KeyboardInterrupt("a kernel that raises KeyboardInterrupt")


def exits(q, k, v, **kw):
    raise SystemExit(0)  # exit code 0: still only this job's end


# A kernel that does the work when it is checked and none later: the timed reps must notice.
CALLS = {"right_then_none": 0}


def right_then_none(q, k, v, **kw):
    CALLS["right_then_none"] += 1
    return _attend(q, k, v, **kw) if CALLS["right_then_none"] <= 1 else None


# Decode candidates: fn(q, k_cache, v_cache, seq_lens, page_table) -> out (jobs/decode_backends.py).
def _decode(q, keys, values, q_tokens):
    """q (q_tokens, H, D) over keys, values (S, H_kv, D), bottom-right causal."""
    group = q.shape[1] // keys.shape[1]
    k, v = keys.repeat_interleave(group, 1).float(), values.repeat_interleave(group, 1).float()
    scores = torch.einsum("qhd,khd->hqk", q.float(), k) * q.shape[-1] ** -0.5
    keep = torch.ones(q_tokens, len(k), dtype=torch.bool, device=q.device).tril(len(k) - q_tokens)
    return torch.einsum("hqk,khd->qhd", torch.softmax(scores.masked_fill(~keep, float("-inf")), -1), v).to(q.dtype)


def _gather(cache, seq_lens, page_table, b, ignore_table=False, whole_pages=False):
    if page_table is None:
        return cache[b, :int(seq_lens[b])]
    size = cache.shape[1]
    n = (int(seq_lens[b]) + size - 1) // size
    in_order = torch.arange(b * page_table.shape[1], b * page_table.shape[1] + n) % cache.shape[0]
    pages = in_order if ignore_table else page_table[b, :n]
    keys = cache[pages.long()].reshape(-1, *cache.shape[2:])
    return keys if whole_pages else keys[:int(seq_lens[b])]


def _decode_all(q, k_cache, v_cache, seq_lens, page_table, **bug):
    return torch.stack([_decode(q[b], _gather(k_cache, seq_lens, page_table, b, **bug),
                                _gather(v_cache, seq_lens, page_table, b, **bug), q.shape[1])
                        for b in range(q.shape[0])])


def decode_right(q, k_cache, v_cache, seq_lens, page_table):
    return _decode_all(q, k_cache, v_cache, seq_lens, page_table)


def decode_ignores_page_table(q, k_cache, v_cache, seq_lens, page_table):
    """Reads sequence b's pages as if they lay in order: b * max_pages, b * max_pages + 1, ..."""
    return _decode_all(q, k_cache, v_cache, seq_lens, page_table, ignore_table=True)


def decode_attends_past_length(q, k_cache, v_cache, seq_lens, page_table):
    """Attends every slot of a sequence's pages, the unused ones past its end too."""
    return _decode_all(q, k_cache, v_cache, seq_lens, page_table, whole_pages=True)


# Varlen prefill candidates: fn(q, k, v, cu_seqlens, max_seqlen) on the packed (tokens, H, D) batch.
def varlen_right(q, k, v, cu_seqlens, max_seqlen):
    return torch.cat([_decode(q[a:b], k[a:b], v[a:b], b - a) for a, b in zip(cu_seqlens[:-1].tolist(),
                                                                            cu_seqlens[1:].tolist())])


def varlen_one_document(q, k, v, cu_seqlens, max_seqlen):
    """Causal over the whole packed batch: each sequence also sees the ones packed before it."""
    return _decode(q, k, v, len(q))


def raises_huge(q, k, v, **kw):
    """An exception with a 2 MB message (and its repetition in the traceback): one row must stay small."""
    raise ValueError("head of the message " + "x" * 2_000_000 + " tail of the message")


# Kernels that leave the process changed beyond torch's settings: the worker must notice and restart.
def replaces_perf_counter(q, k, v, **kw):
    """Makes the clock run 10x slow: every time read through it after this looks 10x faster."""
    import time
    real = time.perf_counter
    time.perf_counter = lambda: real() / 10
    return _attend(q, k, v, **kw)


def leaves_a_thread(q, k, v, **kw):
    """Starts a thread that keeps running matmuls into torch after the job."""
    import threading
    if not any(t.name == "left-behind" for t in threading.enumerate()):
        a = torch.randn(64, 64)
        threading.Thread(target=lambda: [a @ a for _ in iter(int, 1)], name="left-behind", daemon=True).start()
    return _attend(q, k, v, **kw)


def leaves_a_child(q, k, v, **kw):
    """Starts a child process that outlives the job (it would sleep 10 minutes)."""
    import subprocess
    import sys
    if not CALLS.get("child"):
        CALLS["child"] = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]).pid
    return _attend(q, k, v, **kw)
