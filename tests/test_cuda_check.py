"""The NVML-based CUDA check is dropped where NVML cannot load, when a run's Trainer is built."""

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


def test_building_the_run_trainer_drops_the_probe_and_adds_extra_callbacks(monkeypatch, tmp_path):
    import lightning as L

    from aelab.train import build_trainer
    from tests.conftest import compose_config

    class Marker(L.Callback):
        pass

    monkeypatch.setenv(NVML_CHECK, "1")
    monkeypatch.setattr(cuda_check, "nvml_loads", lambda: False)
    cfg = compose_config(f"paths.output_dir={tmp_path}", "trainer.max_epochs=1")
    trainer = build_trainer(cfg, [Marker()])
    assert NVML_CHECK not in os.environ
    kinds = {type(c).__name__ for c in trainer.callbacks}
    assert {"Marker", "NonFiniteGuard", "ModelCheckpoint", "StartupTimer"} <= kinds
    assert [type(lg).__name__ for lg in trainer.loggers] == ["TensorBoardLogger"]
