"""A cheap "is CUDA available?" on machines without an NVIDIA driver.

Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` when it is imported, so that asking whether
CUDA exists never initialises CUDA (which would break a later fork). torch then answers through
NVML, the driver's management library. Where no driver is installed, NVML cannot load, torch falls
back to its own cached answer, but it first tries to load NVML again on every call, and Adam asks
once per optimiser step: about 0.1-0.2 ms a step on a CPU-only machine, for nothing.

`skip_nvml_without_driver` drops the variable only where NVML cannot load; with a driver, the
fork-safe check stays.
"""

import ctypes
import os

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
NVML_LIBRARY = "libnvidia-ml.so.1"


def nvml_loads() -> bool:
    """Whether the NVIDIA management library (shipped with the driver) can be loaded."""
    try:
        ctypes.CDLL(NVML_LIBRARY)
    except OSError:
        return False
    return True


def skip_nvml_without_driver() -> bool:
    """Use torch's plain CUDA check where NVML cannot load; returns True if it changed anything."""
    if os.environ.get(NVML_CHECK) != "1" or nvml_loads():
        return False
    del os.environ[NVML_CHECK]
    return True
