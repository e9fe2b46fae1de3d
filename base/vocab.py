"""The words every layer shares: plain tuples of names, torch-free.

Job-specific words (an attention job's backends, modes and masks; the fault job's faults) live with
their jobs; these are the ones a config, the driver, the report and every job all use.
"""
from __future__ import annotations

DTYPES = ("float16", "bfloat16", "float32")  # torch dtype names: jobs map them with getattr(torch, name)
STATUSES = ("ok", "oom", "unsupported", "error", "crashed", "timeout", "skipped")

# How a point is timed (base/settings.py, docs/methods.md): `adaptive` warms up until the GPU's
# power state settles and times at least one cycle of an active power cap; `fixed` warms up
# warmup_ms and times at least min_timed_ms on every point. What the warmup ended on (`settle` in a
# row): the cap never held the clock, the one-second mean power reached the cap, or neither by
# settle_max_ms (adaptive); `by_time`, the fixed protocol's warmup_ms; `no_nvml` where NVML could not
# be read (a CPU, or no driver library) and the fixed protocol ran in the adaptive one's place.
PROTOCOLS = ("adaptive", "fixed")
SETTLES = ("no_cap", "at_cap", "warmup_max", "by_time", "no_nvml")
# What the wait before a burst found (`burst_wait` in a row): the card was back at its maximum
# clock with its power well below the limit, or `burst_wait_max_ms` passed first.
BURST_WAITS = ("cool", "wait_max")

PLACEMENTS = ("every_device", "one_per_model", "spread")
DEVICE_TYPES = ("any", "cuda", "cpu")
