import pytest
import torch

from aelab.errors import ConfigError
from aelab.metrics.pca import fit_pca, principal_angles
from aelab.models.linear import LinearAutoencoder
from aelab.models.mlp import MLPAutoencoder


def gaussian_data(n_samples=2000, dim=20, seed=0) -> torch.Tensor:
    """Anisotropic Gaussian data with a large mean: PCA and its uncentred form differ."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.logspace(0.5, -1, dim)
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g))
    x = (torch.randn(n_samples, dim, generator=g) * scales) @ basis.T + 3.0
    return x.view(n_samples, 1, 1, dim)


def fit(model, x, steps, lr):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        optimizer.zero_grad()
        terms, _, _ = model.loss_terms({"x": x}, train=True)
        terms["loss"].backward()
        optimizer.step()
        scheduler.step()
    with torch.no_grad():
        return model.loss_terms({"x": x}, train=False)[1].mean().item()


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearAutoencoder([1, 28, 28], 8),
        lambda: LinearAutoencoder([1, 28, 28], 8, variant="uncentred"),
        lambda: MLPAutoencoder(
            [1, 28, 28], 8, hidden_sizes=[64, 32], output_activation="sigmoid", linear_path=False
        ),
    ],
)
def test_api_shapes_and_gradients(make):
    model = make()
    x = torch.rand(5, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (5, 8)
    assert model.decode(z).shape == x.shape and model(x).shape == x.shape
    assert model.embed(x).shape == (5, 8) and model.reconstruct(x).shape == x.shape
    assert model.interpolate(x[0], x[1], steps=6).shape == (6, 1, 28, 28)
    terms, sse, _ = model.loss_terms({"x": x}, train=True)
    assert sse.shape == (5,) and set(terms) == {"recon", "loss"}
    terms["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_pca_variant_reaches_closed_form_pca():
    torch.manual_seed(0)
    x = gaussian_data()
    m = 4
    model = LinearAutoencoder([1, 1, 20], m, variant="pca")
    model.data_mean.copy_(x.flatten(1).mean(0))  # what setup() does with the training split
    sse = fit(model, x, steps=1500, lr=0.02)
    pca = fit_pca(x, m)
    bound = pca.reconstruction_sse(x).mean().item()
    assert sse <= 1.01 * bound
    # A^T A is the projector onto PCA's subspace: the principal angles vanish
    assert principal_angles(model.encoder.weight.detach(), pca.components).max() < 0.05


def test_uncentred_variant_cannot_beat_the_uncentred_bound():
    torch.manual_seed(0)
    x = gaussian_data()
    m = 4
    model = LinearAutoencoder([1, 1, 20], m, variant="uncentred")
    sse = fit(model, x, steps=1500, lr=0.02)
    centred = fit_pca(x, m).reconstruction_sse(x).mean().item()
    uncentred = fit_pca(x, m, centred=False).reconstruction_sse(x).mean().item()
    assert uncentred > 1.1 * centred  # the data make the two bounds differ
    assert sse >= uncentred * (1 - 1e-4)
    assert sse <= 1.05 * uncentred  # and it does learn: it gets near its own bound


def test_bad_model_settings():
    with pytest.raises(ConfigError, match="variant"):
        LinearAutoencoder([1, 4, 4], 2, variant="kernel")
    with pytest.raises(ConfigError, match="hidden_sizes"):
        MLPAutoencoder([1, 4, 4], 2, hidden_sizes=[8, 0])
    with pytest.raises(ConfigError, match="activation"):
        MLPAutoencoder([1, 4, 4], 2, activation="swish2")
    with pytest.raises(ConfigError, match="lr"):
        MLPAutoencoder([1, 4, 4], 2, lr=-1.0)


def test_hyperparameters_are_primitives():
    model = MLPAutoencoder([1, 10, 10], 5, hidden_sizes=[16])
    allowed = (int, float, str, bool, list, tuple, type(None))
    assert all(isinstance(v, allowed) for v in model.hparams.values())
    assert "regularizer" not in model.hparams
