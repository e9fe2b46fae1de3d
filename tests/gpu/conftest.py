"""GPU tests: the checks that need a CUDA device, run on the lent GPU (`pytest -m gpu tests/gpu`)
and skipped everywhere else. They assert behaviour (what ran, what was recorded), never timings."""
import pytest
import torch


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/gpu/" in str(item.fspath):
            item.add_marker(pytest.mark.gpu)
            item.add_marker(pytest.mark.integration)  # compilers (inductor, Triton, nvcc) run as subprocesses
            if not torch.cuda.is_available():
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
