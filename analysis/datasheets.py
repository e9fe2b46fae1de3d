"""Datasheet memory bandwidth of known GPUs, by the name torch reports, for `pct_of_datasheet`.

A vendor's peak, not a measurement: rows are ranked against their own device's measured read
bandwidth (jobs/read_kernel.py); this column is there because users hold numbers against these
figures, as FlashAttention's benchmark does. Exact names only: a GPU not listed gets no figure
rather than a neighbour's (a substring match would give an A100 the A10's 600 GB/s).
"""
from __future__ import annotations

import math

DATASHEET_GBS = {
    "NVIDIA H100 80GB HBM3": 3350,  # H100 SXM: NVIDIA H100 Tensor Core GPU datasheet
    "NVIDIA H100 PCIe": 2000,  # NVIDIA H100 PCIe product brief PB-11133-001_v02
    "NVIDIA H100 NVL": 3900,  # NVIDIA H100 NVL product page (3.9 TB/s per GPU)
    "NVIDIA H200": 4800,  # NVIDIA H200 datasheet (H200 SXM, 141 GB HBM3e)
    "NVIDIA H20": 4000,  # as FlashAttention's benchmarks/benchmark_attn.py lists it
    "NVIDIA A100-SXM4-80GB": 2039,  # NVIDIA A100 datasheet (80 GB SXM)
    "NVIDIA A100 80GB PCIe": 1935,  # NVIDIA A100 datasheet (80 GB PCIe)
    "NVIDIA A100-SXM4-40GB": 1555,  # NVIDIA A100 datasheet (40 GB)
    "NVIDIA A100-PCIE-40GB": 1555,  # NVIDIA A100 datasheet (40 GB)
    "NVIDIA L40S": 864,  # NVIDIA L40S datasheet
    "NVIDIA L4": 300,  # NVIDIA L4 datasheet
    "NVIDIA A10": 600,  # NVIDIA A10 datasheet
    "NVIDIA B200": 8000,  # NVIDIA DGX B200 / HGX B200 datasheet (per GPU)
    "NVIDIA GB200": 8000,  # NVIDIA GB200 NVL72 datasheet (per GPU)
    "AMD Instinct MI300X": 5300,  # AMD Instinct MI300X platform data sheet
}


def datasheet_gbs(gpu_name: object) -> float:
    """The datasheet bandwidth of a GPU by its torch name, in GB/s (1e9 B/s); NaN if unknown."""
    return float(DATASHEET_GBS.get(str(gpu_name), math.nan))
