"""Process-wide torch state that a job (a user's candidate kernel, say) could change and every
later job on the same worker would silently inherit: autograd, dtypes, threads, TF32 and reduced
precision, determinism, cuDNN's switches, SDPA's backend flags, and the kernel behind SDPA's
flash backend. The worker reads it when it starts and after every job; a difference restarts it.
(`torch.backends.cuda.enable_flash_sdp(False)` left behind made `default` run math: 2.3x.)
"""
from __future__ import annotations

import torch
import torch.nn.attention as attention

CUDA = torch.backends.cuda


def sdpa_flags() -> dict[str, object]:
    flags = {"flash_sdp": CUDA.flash_sdp_enabled(), "mem_efficient_sdp": CUDA.mem_efficient_sdp_enabled(),
             "math_sdp": CUDA.math_sdp_enabled(), "cudnn_sdp": CUDA.cudnn_sdp_enabled()}
    if hasattr(CUDA, "fp16_bf16_reduction_math_sdp_allowed"):
        flags["fp16_bf16_reduction_math_sdp"] = CUDA.fp16_bf16_reduction_math_sdp_allowed()
    return flags


def flash_impl() -> str:
    """The kernel behind SDPA's flash backend: `builtin` (torch's FlashAttention-2) or, since torch
    2.10, an activated implementation such as FA4."""
    current = getattr(attention, "current_flash_attention_impl", lambda: None)()
    return current or "builtin"


def process_state() -> dict[str, object]:
    return {
        "grad_enabled": torch.is_grad_enabled(), "inference_mode": torch.is_inference_mode_enabled(),
        "anomaly_detection": torch.is_anomaly_enabled(), "default_dtype": torch.get_default_dtype(),
        "default_device": str(torch.get_default_device()), "num_threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "matmul_tf32": CUDA.matmul.allow_tf32,
        "matmul_fp16_reduced_reduction": CUDA.matmul.allow_fp16_reduced_precision_reduction,
        "matmul_bf16_reduced_reduction": CUDA.matmul.allow_bf16_reduced_precision_reduction,
        "cudnn_enabled": torch.backends.cudnn.enabled, "cudnn_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark, "cudnn_deterministic": torch.backends.cudnn.deterministic,
        **sdpa_flags(), "flash_impl": flash_impl(),
    }
