"""What the first profiled probe of a worker costs (issue 3; needs a GPU).

Each variant runs in a fresh process, as in a new worker: import, then two profiled calls of a
small SDPA point, timed. `autograd`: jobs.kernels.profile_kernels (torch.autograd.profiler with
kineto); `torch_profiler`: torch.profiler.profile, which imports torch._inductor on start.

    python3 benchmarks/probe_cost.py
"""
from __future__ import annotations

import subprocess
import sys

VARIANT = r"""
import sys, time
t0 = time.perf_counter()
import torch
import torch.nn.functional as F
from jobs.kernels import profile_kernels
q = torch.randn(1, 8, 256, 64, device="cuda", dtype=torch.bfloat16)
fn = lambda: F.scaled_dot_product_attention(q, q, q)
fn(); torch.cuda.synchronize()
def torch_profiler(fn, device):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn(); torch.cuda.synchronize()
    return [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA], 0.0
probe = profile_kernels if sys.argv[1] == "autograd" else torch_profiler
t1 = time.perf_counter(); names, _ = probe(fn, torch.device("cuda:0")); t2 = time.perf_counter()
probe(fn, torch.device("cuda:0")); t3 = time.perf_counter()
print(f"{sys.argv[1]:<15} set-up {t1 - t0:5.2f} s  first probe {t2 - t1:5.2f} s  second {1e3 * (t3 - t2):6.1f} ms  "
      f"dynamo imported: {'torch._dynamo' in sys.modules}  kernels: {names}")
"""

for variant in ("autograd", "torch_profiler", "autograd"):
    run = subprocess.run([sys.executable, "-c", VARIANT, variant], capture_output=True, text=True)
    print(run.stdout.strip() if run.returncode == 0 else f"{variant} failed: {run.stderr.strip()[-600:]}")

# A worker's first forward+backward (the sweep's second job: math, 32x32x512x64 bf16) took 3.5 s
# more than its later ones. Is that the profiler or the first backward of any process?
FIRST_BACKWARD = r"""
import sys, time
import torch
from jobs.backends import forced
from jobs.kernels import profile_kernels
from jobs.sdpa_benchmark import build_call, make_inputs
from jobs.spec import JobSpec
device = torch.device("cuda:0")
spec = JobSpec(job="sdpa_benchmark", sweep="x", backend="math", batch=32, heads=32, kv_heads=32, seq_len=512,
               kv_len=512, head_dim=64, dtype="bfloat16", causal=False, mode=sys.argv[2], seed=0, inputs="randn")
with forced(spec, device):
    fwd = build_call(JobSpec(**{**spec.__dict__, "mode": "fwd"}), *make_inputs(spec, device, grad=False))
    fwd(); torch.cuda.synchronize()  # the forward's first call paid, as in the sweep's first job
    fn = build_call(spec, *make_inputs(spec, device, grad=True))
    t0 = time.perf_counter()
    profile_kernels(fn, device) if sys.argv[1] == "profiled" else fn()
    torch.cuda.synchronize(); t1 = time.perf_counter()
    fn(); torch.cuda.synchronize(); t2 = time.perf_counter()
print(f"first {sys.argv[2]:<8} {sys.argv[1]:<9} call {t1 - t0:5.2f} s, second {1e3 * (t2 - t1):6.1f} ms")
"""

for args in (["profiled", "fwd_bwd"], ["plain", "fwd_bwd"], ["profiled", "fwd_bwd"], ["plain", "fwd_bwd"]):
    run = subprocess.run([sys.executable, "-c", FIRST_BACKWARD, *args], capture_output=True, text=True)
    print(run.stdout.strip() if run.returncode == 0 else f"{args} failed: {run.stderr.strip()[-600:]}")
