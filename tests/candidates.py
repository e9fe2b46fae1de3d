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
