"""result.json says which checkpoint each metric is of: the tested best one, or the last epoch."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from aelab.callbacks.checkpoint_metrics import CheckpointMetrics, read_checkpoint_metrics
from aelab.data.loaders import TensorBatches
from aelab.runs.job import objective_value
from aelab.train import score_checkpoints

VAL_MSE = [0.5, 0.2, 0.4]  # scripted: the best epoch (1) is not the last (2)


class Scripted(L.LightningModule):
    """One weight that grows each step; validation reports `VAL_MSE` of the epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))

    def training_step(self, batch, batch_idx):
        return -self.weight  # SGD with lr 1 adds 1 per step

    def validation_step(self, batch, batch_idx):
        self.log("val/mse", VAL_MSE[self.current_epoch])
        self.log("val/weight", self.weight.detach())

    def test_step(self, batch, batch_idx):
        self.log("test/weight", self.weight.detach())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1.0)


class Batches(L.LightningDataModule):
    def _batches(self):
        return TensorBatches({"x": torch.zeros(2, 1)}, batch_size=1, shuffle=False)

    train_dataloader = val_dataloader = test_dataloader = _batches


def fit_scripted(tmp_path, **checkpointing) -> tuple[L.Trainer, Scripted, Batches]:
    callbacks = [CheckpointMetrics()]
    if checkpointing:
        callbacks.append(ModelCheckpoint(dirpath=tmp_path, **checkpointing))
    trainer = L.Trainer(
        max_epochs=len(VAL_MSE),
        callbacks=callbacks,
        enable_checkpointing=bool(checkpointing),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model, data = Scripted(), Batches()
    trainer.fit(model, datamodule=data)
    return trainer, model, data


def test_best_and_last_are_recorded_apart_and_the_best_is_tested(tmp_path):
    trainer, model, data = fit_scripted(
        tmp_path,
        monitor="val/mse",
        save_last=True,
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
    )
    records = score_checkpoints(trainer, model, data)
    best, last = records["best"], records["last"]
    assert records["tested"] == "best"
    assert best["epoch"] == 1 and best["checkpoint"].endswith("epoch001.ckpt")
    assert best["metrics"]["val/mse"] == pytest.approx(0.2)
    assert last["epoch"] == 2
    # a last checkpoint is named only if it holds the last epoch (Lightning 2.6 rewrites
    # last.ckpt only with a new best one)
    assert last["checkpoint"] is None or read_checkpoint_metrics(last["checkpoint"])[0] == 2
    assert last["metrics"]["val/mse"] == pytest.approx(0.4)
    # the test ran on the weights of the best epoch, not the final ones
    assert best["metrics"]["test/weight"] == best["metrics"]["val/weight"] == 4.0
    assert last["metrics"]["val/weight"] == 6.0
    flat = records["metrics"]
    assert flat["val/mse"] == pytest.approx(0.2) and flat["test/weight"] == 4.0
    assert records["checkpoint"] == best["checkpoint"]
    assert records["last_checkpoint"].endswith("last.ckpt")


def test_checkpoints_carry_the_validation_metrics_of_their_epoch(tmp_path):
    fit_scripted(
        tmp_path,
        monitor="val/mse",
        save_top_k=-1,
        filename="e{epoch}",
        auto_insert_metric_name=False,
    )
    for epoch, expected in enumerate(VAL_MSE):
        recorded_epoch, val = read_checkpoint_metrics(tmp_path / f"e{epoch}.ckpt")
        assert recorded_epoch == epoch
        assert val == {"val/mse": pytest.approx(expected), "val/weight": 2.0 * (epoch + 1)}


def test_without_checkpoints_the_final_weights_are_tested(tmp_path):
    trainer, model, data = fit_scripted(tmp_path)
    records = score_checkpoints(trainer, model, data)
    assert records["tested"] == "last" and records["best"] is None
    assert records["last"]["epoch"] == 2 and records["last"]["checkpoint"] is None
    assert records["metrics"]["val/mse"] == pytest.approx(0.4)
    assert records["metrics"]["test/weight"] == 6.0


def test_the_sweeper_gets_the_best_checkpoints_objective():
    result = {
        "metrics": {"val/mse": 0.2, "train/loss": 3.0},
        "best": {"metrics": {"val/mse": 0.2}},
        "last": {"metrics": {"val/mse": 0.4}},
    }
    assert objective_value(result, "val/mse") == 0.2
    assert objective_value(result, "train/loss") == 3.0  # not recorded per checkpoint
    assert objective_value(result, "test/absent") == float("inf")
    assert objective_value({"metrics": {"val/mse": float("nan")}}, "val/mse") == float("inf")
