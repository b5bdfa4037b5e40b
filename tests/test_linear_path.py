"""The PCA-started linear path: the model starts exactly at the PCA reconstruction."""

from pathlib import Path

import pytest
import torch

from aelab.errors import ConfigError
from aelab.metrics.pca import fit_pca
from aelab.models.conv import ConvAutoencoder
from aelab.models.mlp import MLPAutoencoder
from tests.conftest import TINY_TERRAIN, load_results, run_cli


def low_rank_data(n: int = 256, side: int = 6, rank: int = 4) -> torch.Tensor:
    torch.manual_seed(0)
    basis = torch.randn(rank, side * side)
    codes = torch.randn(n, rank) * torch.tensor([4.0, 2.0, 1.0, 0.5])
    return (codes @ basis + 0.05 * torch.randn(n, side * side) + 3.0).view(n, 1, side, side)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: MLPAutoencoder([1, 6, 6], m, hidden_sizes=[16], linear_path=True),
        lambda m: ConvAutoencoder([1, 6, 6], m, channels=[4], fc_sizes=[8], linear_path=True),
    ],
    ids=["mlp", "conv"],
)
@pytest.mark.parametrize("m", [2, 3])
def test_starts_at_the_pca_reconstruction(make, m):
    x = low_rank_data()
    model = make(m)
    model.pca_path.fit(x.flatten(1))
    pca = fit_pca(x, m)
    expected = pca.decode(pca.encode(x)).float().view_as(x)
    assert torch.allclose(model.reconstruct(x), expected, atol=1e-4)
    sse = ((model.reconstruct(x) - x) ** 2).flatten(1).sum(1)
    assert torch.allclose(sse.double().mean(), pca.reconstruction_sse(x).mean(), rtol=1e-4)


def test_without_the_path_the_model_is_not_pca():
    x = low_rank_data()
    model = MLPAutoencoder([1, 6, 6], 2, hidden_sizes=[16], linear_path=False)
    assert model.pca_path is None
    pca = fit_pca(x, 2)
    assert not torch.allclose(model.reconstruct(x), pca.decode(pca.encode(x)).float().view_as(x))


def test_overcomplete_latent_starts_at_the_identity():
    x = low_rank_data(side=3)
    model = MLPAutoencoder([1, 3, 3], 18, hidden_sizes=[8], linear_path=True)
    model.pca_path.fit(x.flatten(1))
    assert torch.allclose(model.reconstruct(x), x, atol=1e-4)


def test_unit_clip_output_keeps_values_in_range():
    model = MLPAutoencoder(
        [1, 4, 4], 2, hidden_sizes=[8], output_activation="unit_clip", linear_path=True
    )
    model.pca_path.fit(torch.rand(64, 16) * 3 - 1)
    out = model.reconstruct(torch.rand(8, 1, 4, 4) * 3 - 1)
    assert out.min() >= 0 and out.max() <= 1


def test_squashing_output_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match="output_activation=unit_clip"):
        MLPAutoencoder([1, 4, 4], 2, output_activation="sigmoid", linear_path=True)


def test_training_starts_at_pca_and_improves_on_it(tmp_path):
    """A real (tiny) run: `DataStart` starts the path at PCA of the training split; training lowers
    the training error below PCA's."""
    import lightning as L

    from aelab.callbacks.data_start import DataStart
    from aelab.data.terrain import TerrainDataModule

    dm = TerrainDataModule(train_size=1024, val_size=128, test_size=128, batch_size=64)
    model = MLPAutoencoder(
        list(dm.input_shape), 3, hidden_sizes=[32], linear_path=True, lr=3e-3, scheduler="onecycle"
    )
    trainer = L.Trainer(
        max_epochs=5,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[DataStart()],
    )
    trainer.fit(model, datamodule=dm)
    x_train = dm.split("train")["x"]
    pca = fit_pca(x_train, 3)
    assert torch.allclose(model.pca_path.mean.double(), pca.mean, atol=1e-5)
    model_sse = ((model.reconstruct(x_train) - x_train) ** 2).flatten(1).sum(1).mean()
    assert model_sse < pca.reconstruction_sse(x_train).mean()


def test_the_pca_start_is_kept_when_no_epoch_beats_it(tmp_path):
    """At m = n PCA is exact: no epoch can beat the start, so the start is what gets tested."""
    done = run_cli(*TINY_TERRAIN, "compression.ratio=1", "data.resolution=5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    (result,) = load_results(tmp_path / "outputs")
    assert result["checkpoint"].endswith("start.ckpt")
    assert result["best"]["epoch"] == -1
    # Lightning's ModelCheckpoint keeps its own bookkeeping: the start is chosen beside it
    saved = torch.load(result["checkpoint"], map_location="cpu", weights_only=False)
    (state,) = [v for k, v in saved["callbacks"].items() if k.startswith("ModelCheckpoint")]
    assert Path(state["best_model_path"]).name.startswith("epoch")
    metrics = result["metrics"]
    assert metrics["test/mse"] <= metrics["test/pca_mse"] + 1e-9
