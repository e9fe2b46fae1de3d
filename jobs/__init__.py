"""Job functions, by name: the one registry the worker looks jobs up in.

A job is a plain function `(spec, device, timing) -> Outcome`. Add one by writing the function
and naming it here; nothing registers itself on import.
"""
from jobs.ceilings import device_ceilings
from jobs.correctness import causal_correctness
from jobs.faults import fault_injection
from jobs.sdpa_benchmark import sdpa_benchmark

JOBS = {
    "sdpa_benchmark": sdpa_benchmark,
    "fault_injection": fault_injection,
    "device_ceilings": device_ceilings,
    "causal_correctness": causal_correctness,
}
