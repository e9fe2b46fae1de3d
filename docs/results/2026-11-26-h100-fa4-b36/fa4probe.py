"""FlashAttention-4's first forward and backward calls on one point, each timed to completion."""
import importlib.metadata as m
import sys
import time

import torch
from flash_attn.cute import flash_attn_func

print("flash-attn-4", m.version("flash-attn-4"), "nvidia-cutlass-dsl", m.version("nvidia-cutlass-dsl"),
      "quack-kernels", m.version("quack-kernels"), "torch", torch.__version__, flush=True)
q, k, v = (torch.randn(4, 4096, 16, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
for causal in (False, True):
    for label in ("first", "second"):
        t0 = time.perf_counter()
        out = flash_attn_func(q, k, v, causal=causal)[0]
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        grads = torch.autograd.grad(out, (q, k, v), torch.randn_like(out))
        torch.cuda.synchronize()
        print(f"causal={causal} {label} call: forward {t1 - t0:.3f} s, backward {time.perf_counter() - t1:.3f} s",
              flush=True)
sys.exit(0)
