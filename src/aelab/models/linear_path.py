"""A linear path beside a non-linear autoencoder, started at closed-form PCA.

    z = act(W_e (x - mu) + f(x)),    x_hat = mu + W_d z + g(z)

f and g are the variant's non-linear encoder and decoder. Their last layers start at zero, and
(W_e, W_d) start at the top-m principal directions of the training split (mu its mean), so
training starts from the PCA reconstruction: the best any linear map does at this m. The
non-linear parts then learn what PCA misses. Without this start a non-linear AE trained for a
fixed budget can end above the PCA error at larger m; with it, it starts at PCA.

For m > n the extra latent dimensions have no linear path (PCA has only n directions).
"""

import torch
from torch import Tensor, nn

from aelab.metrics.pca import PCA, fit_pca


class LinearPath(nn.Module):
    def __init__(self, input_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(input_dim))
        self.encoder = nn.Linear(input_dim, latent_dim, bias=False)
        self.decoder = nn.Linear(latent_dim, input_dim, bias=False)
        nn.init.zeros_(self.encoder.weight)
        nn.init.zeros_(self.decoder.weight)

    def encode(self, flat: Tensor) -> Tensor:
        return self.encoder(flat - self.mean)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z) + self.mean

    def fit(self, x_train: Tensor) -> PCA:
        """Start at closed-form PCA of the training inputs; returns that PCA."""
        pca = fit_pca(x_train.detach().cpu(), self.encoder.out_features, centred=True)
        self.start_at(pca)
        return pca

    @torch.no_grad()
    def start_at(self, pca: PCA) -> None:
        """Set the mean and both maps to `pca` (components beyond n stay at zero)."""
        components = pca.components.to(self.encoder.weight)  # (k, n), k = min(m, n)
        k = len(components)
        self.mean.copy_(pca.mean.to(self.mean))
        self.encoder.weight.zero_()
        self.encoder.weight[:k] = components
        self.decoder.weight.zero_()
        self.decoder.weight[:, :k] = components.T


def zero_last_layer(module: nn.Module) -> None:
    """Zero the weights and bias of the last layer with weights in `module` (a residual start)."""
    layers = [m for m in module.modules() if isinstance(getattr(m, "weight", None), Tensor)]
    last = layers[-1]
    nn.init.zeros_(last.weight)
    if getattr(last, "bias", None) is not None:
        nn.init.zeros_(last.bias)
