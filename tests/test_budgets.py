"""Budgets in optimiser steps: the default trains the same number of steps on any data size, the
learning-rate schedules span that budget, and a small data set converges within it."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aelab.experiments.ordered_curve import small_array
from aelab.runs.build import build_run
from tests.conftest import compose_config, run_train_in_process


def test_the_default_budget_is_counted_in_steps_not_epochs():
    trainer = compose_config().trainer
    assert trainer.max_steps == 3000 and trainer.max_epochs == -1
    for recipe, steps in (("model=mlp", 3000), ("model=conv", 3000)):
        assert compose_config(recipe).trainer.max_steps == steps
    mnist = ["data=mnist", "data.split=t10k"]
    assert compose_config("model=mlp", *mnist).trainer.max_steps == 2000
    assert compose_config("model=conv", *mnist).trainer.max_steps == 1250


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_the_schedules_span_the_step_budget(scheduler):
    model = build_run(compose_config(f"model.scheduler={scheduler}")).model
    model._trainer = SimpleNamespace(estimated_stepping_batches=37)  # Lightning's count
    schedule = model.configure_optimizers()["lr_scheduler"]
    assert schedule["interval"] == "step"
    if scheduler == "cosine":
        assert schedule["scheduler"].T_max == 37
    else:
        assert schedule["scheduler"].total_steps == 37


def test_a_thousand_rows_converge_to_pca_at_the_defaults(tmp_path, monkeypatch, capsys):
    """The lesson 'a linear AE is PCA' holds on a user's small array at the default budget
    (3000 steps: 750 epochs of 800 rows), not only on the large built-in sets."""
    np.save(tmp_path / "rows.npy", small_array(1000, 100))  # the ordered_curve experiment's
    args = [
        "model=linear",
        "data=array",
        f"data.path={tmp_path / 'rows.npy'}",
        "compression.latent_dim=5",
        "torch_threads=1",
        "~logger",
        "callbacks.progress_bar=null",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    code, err = run_train_in_process(args, tmp_path, monkeypatch, capsys)
    assert code == 0, err[-2000:]
    result = json.loads((tmp_path / "run/result.json").read_text())
    assert result["last"]["epoch"] + 1 == 750  # 3000 steps of 4 batches: the budget, not 20
    assert result["metrics"]["test/mse_over_pca"] == pytest.approx(1.0, abs=0.01)
    assert torch.isfinite(torch.tensor(result["metrics"]["test/mse"]))


def test_the_budget_rounds_up_to_whole_epochs_and_the_schedule_spans_them(
    tmp_path, monkeypatch, capsys
):
    """10 steps of 4 batches an epoch: 3 whole epochs, 12 steps, and one-cycle over those 12
    (every checkpoint at an epoch's end, so a resume from last.ckpt stays exact)."""
    args = [
        "trainer.max_steps=10",
        "data.train_size=256",
        "data.val_size=64",
        "data.test_size=64",
        "data.batch_size=64",
        "torch_threads=1",
        "~logger",
        "callbacks.progress_bar=null",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    code, err = run_train_in_process(args, tmp_path, monkeypatch, capsys)
    assert code == 0, err[-2000:]
    result = json.loads((tmp_path / "run/result.json").read_text())
    assert result["epochs"] == 3
    last = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=True)
    assert last["global_step"] == 12
    assert last["lr_schedulers"][0]["total_steps"] == 12
