"""The NVML-based CUDA check is dropped only where NVML cannot load."""

import os

import pytest

from aelab import cuda_check
from aelab.cuda_check import NVML_CHECK, skip_nvml_without_driver


@pytest.mark.parametrize(
    ("value", "nvml", "changed", "left"),
    [
        ("1", False, True, None),  # no driver: the per-call NVML probe goes
        ("1", True, False, "1"),  # a driver: the fork-safe check stays
        (None, False, False, None),  # nothing set: nothing to do
        ("0", False, False, "0"),  # someone chose otherwise: left alone
    ],
)
def test_skip_nvml_without_driver(monkeypatch, value, nvml, changed, left):
    if value is None:
        monkeypatch.delenv(NVML_CHECK, raising=False)
    else:
        monkeypatch.setenv(NVML_CHECK, value)
    monkeypatch.setattr(cuda_check, "nvml_loads", lambda: nvml)
    assert skip_nvml_without_driver() is changed

    assert os.environ.get(NVML_CHECK) == left


def test_nvml_loads_answers_without_raising():
    assert isinstance(cuda_check.nvml_loads(), bool)
