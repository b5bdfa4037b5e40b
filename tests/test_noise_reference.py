"""`test/noise_mse_over_mean`: the error on uniform noise, 0 for the identity and 1 for a model
that answers the training mean whatever its input."""

import lightning as L
import pytest
import torch
from torch import Tensor

from aelab.callbacks.baselines import BaselineMetrics
from aelab.data.terrain import TerrainDataModule
from aelab.models.base import AutoencoderModule


class Identity(AutoencoderModule):
    def _encode(self, x: Tensor) -> Tensor:
        return x.flatten(1)

    def decode(self, z: Tensor) -> Tensor:
        return z.view(len(z), *self.input_shape)


class TrainingMean(AutoencoderModule):
    def __init__(self, input_shape: list[int], mean: Tensor) -> None:
        super().__init__(input_shape, latent_dim=1)
        self.register_buffer("mean", mean)

    def _encode(self, x: Tensor) -> Tensor:
        return torch.zeros(len(x), 1)

    def decode(self, z: Tensor) -> Tensor:
        return self.mean.expand(len(z), *self.input_shape)


def scores(model: AutoencoderModule, datamodule: TerrainDataModule) -> dict[str, float]:
    trainer = L.Trainer(
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[BaselineMetrics()],
    )
    trainer.test(model, datamodule=datamodule, verbose=False)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


@pytest.fixture(scope="module")
def terrain() -> TerrainDataModule:
    datamodule = TerrainDataModule(
        train_size=400, val_size=50, test_size=1000, batch_size=100, seed=0
    )
    datamodule.setup()
    return datamodule


def test_identity_scores_zero_and_the_training_mean_one(terrain):
    torch.manual_seed(0)
    shape = list(terrain.input_shape)
    identity = scores(Identity(shape, latent_dim=terrain.input_dim), terrain)
    mean = scores(TrainingMean(shape, terrain.split("train")["x"].mean(dim=0)), terrain)
    assert identity["test/noise_mse"] == 0 and identity["test/noise_mse_over_mean"] == 0
    assert mean["test/noise_mse_over_mean"] == pytest.approx(1, abs=0.02)
    assert mean["test/noise_mse_mean"] == identity["test/noise_mse_mean"]
    # terrain is standardised but its range is lopsided: the noise's own variance alone, the
    # old reference, would put a mean-answering model far above 1
    low, high = terrain.value_range
    assert mean["test/noise_mse"] / ((high - low) ** 2 / 12) > 1.5
    assert "test/noise_mse_ratio" not in mean
