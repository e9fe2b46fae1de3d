"""The vocabulary a config, a job and a report share: plain tuples of names, torch-free.

The config is checked against these before anything imports torch; the jobs map the same names
to torch objects (a test holds each mapping equal to its tuple here).
"""
from __future__ import annotations

DTYPES = ("float16", "bfloat16", "float32")
DRAWS = ("randn", "rand")  # `rand` as in PyTorch's SDPA tutorial
MODES = ("fwd", "bwd", "fwd_bwd")
MASKS = ("is_causal", "bool", "additive", "lower_right")  # how a causal mask is handed to SDPA

# SDPA's own backends (`default` forces none: torch's dispatcher picks), then kernels called
# directly: FlashAttention-4's flash_attn.cute and torch.compile'd FlexAttention.
SDPA_BACKENDS = ("default", "math", "flash", "efficient", "cudnn", "overrideable")
DIRECT_BACKENDS = ("fa4", "flex")
BACKENDS = SDPA_BACKENDS + DIRECT_BACKENDS
# The kernel behind SDPA's flash backend (torch.nn.attention.activate_flash_attention_impl):
# `builtin` is torch's own FlashAttention-2. It matters only to backends that can reach it.
FLASH_IMPLS = ("builtin", "FA3", "FA4")
FLASH_IMPL_BACKENDS = ("default", "flash")

STATUSES = ("ok", "oom", "unsupported", "error", "crashed", "timeout", "skipped")
# fault_injection's faults and the status each must end in (selftest and the tests check it)
EXPECTED_STATUS = {"none": "ok", "oom": "oom", "error": "error", "crash": "crashed", "hang": "timeout",
                   "exit": "crashed", "interrupt": "crashed", "undeclared": "error"}
FAULTS = tuple(EXPECTED_STATUS)

# How a point is timed (base/settings.py, docs/methods.md): `adaptive` warms up until the GPU's
# power state settles and times at least one cycle of an active power cap; `fixed` warms up
# warmup_ms and times at least min_timed_ms on every point. What the adaptive warmup found
# (`settle` in a row): the cap never held the clock, the one-second mean power reached the cap,
# or neither by settle_max_ms; `fixed` rows say `fixed`, or `no_nvml` where NVML could not be read
# (a CPU, or no driver library) and the fixed protocol ran in the adaptive one's place.
PROTOCOLS = ("adaptive", "fixed")
SETTLES = ("no_cap", "at_cap", "warmup_max", "fixed", "no_nvml")

PLACEMENTS = ("every_device", "one_per_model", "spread")
DEVICE_TYPES = ("any", "cuda", "cpu")
