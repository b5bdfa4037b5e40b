"""Variational autoencoder (Kingma & Welling) with an MLP or a convolutional backbone.

q(z|x) = N(mu(x), diag exp(logvar(x))), prior N(0, I), decoder p(x|z):

- ``likelihood=bernoulli``: the decoder gives logits, ``recon`` is the binary cross-entropy
  summed over pixels (data in [0, 1], e.g. MNIST); the mean image is sigmoid(logits).
- ``likelihood=gaussian``: the decoder gives the mean (through ``output_activation``); ``recon``
  is the summed squared error, or with a fixed ``sigma`` the Gaussian negative log-likelihood
  sse / (2 sigma^2) + n log(sigma sqrt(2 pi)).

``loss = recon + beta * kl`` with ``kl`` summed over latent dimensions and averaged over the batch
(pythae's reduction); ``train/elbo = -(recon + kl)``. The per-dimension KL is logged each epoch
(``kl_dim/<j>``, a histogram, and the count of active dimensions) so collapsed ones are visible.
``encode``/``embed`` give the posterior mean; training decodes a reparameterised sample. The
latent code is ``latent_activation`` of the Gaussian variable (identity unless a regularizer
such as sparse_kl needs bounded codes), and the regularizer's ``sparsify``/``penalty`` act on it.

The step is the base's (`aelab.models.base`): this module overrides only ``latent`` (the
posterior: mean, sample, KL) and ``reconstruction`` (the likelihood), and takes its encoder and
decoder stacks from `aelab.models.backbones` like the plain variants. Its pictures (prior samples,
an interpolation) are drawn by `aelab.callbacks.images.ReconstructionImages`.

Scores (aelab-eval's anomaly task): ``log_likelihood(x, z)`` is the normalised log p(x|z),
``elbo_terms(x, k)`` a k-sample estimate of the ELBO, ``iwae_bound(x, k)`` the importance-weighted
bound; the k posterior samples of every input go through the decoder as one batch.
"""

import math

import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn

from aelab.callbacks.common import tensorboard_loggers
from aelab.errors import ConfigError
from aelab.models.backbones import BACKBONES, CONV, NETWORK, build_stacks
from aelab.models.base import AutoencoderModule, Latent
from aelab.models.layers import activation as make_activation
from aelab.schema.keys import Context, Key, Target
from aelab.schema.message import violation
from aelab.schema.types import Choice, Integer, Number, Sizes

LIKELIHOODS = ("gaussian", "bernoulli")
MAX_KL_SCALARS = 64  # above this many latent dims, the per-dimension KL is a histogram only
ACTIVE_KL = 0.01  # nats: a latent dimension with less mean KL than this counts as collapsed
LOGVAR_LIMIT = 20.0  # keeps exp(logvar) finite when a run is about to diverge


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per sample and latent dimension, in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def reparameterise(mu: Tensor, logvar: Tensor) -> Tensor:
    """A sample z = mu + sigma * eps, differentiable in mu and logvar."""
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


def _bernoulli_output(ctx: Context) -> None:
    """A schema rule: the Bernoulli likelihood decodes probabilities, through a sigmoid."""
    output = ctx["model.output_activation"]
    if ctx["model.likelihood"] == "bernoulli" and output != "sigmoid":
        raise violation(
            "model.output_activation",
            "sigmoid with model.likelihood=bernoulli (the decoder gives pixel probabilities; "
            "or use model.likelihood=gaussian)",
            repr(output),
            "sigmoid",
        )


class VariationalAutoencoder(AutoencoderModule):
    SCHEMA = Target(
        keys=(
            Key("backbone", Choice(BACKBONES), "mlp"),
            Key("likelihood", Choice(LIKELIHOODS), "gaussian"),
            Key("beta", Number(ge=0), 1.0),
            Key("sigma", Number(gt=0), 0.05, nullable=True, note="(null: plain squared error)"),
            Key("hidden_sizes", Sizes(), [256, 64]),
            *CONV,
            *NETWORK,
            Key("num_images", Integer(ge=2), 8),
        ),
        rules=(_bernoulli_output,),
        size_keys=("hidden_sizes", "channels", "fc_sizes"),
    )

    def __init__(
        self,
        input_shape: list[int],
        latent_dim: int,
        backbone: str = "mlp",
        likelihood: str = "gaussian",
        beta: float = 1.0,
        sigma: float | None = None,
        hidden_sizes: list[int] = (256, 64),
        channels: list[int] = (32, 64),
        kernel_size: int = 3,
        fc_sizes: list[int] = (),
        activation: str = "relu",
        latent_activation: str = "identity",
        output_activation: str = "identity",
        num_images: int = 8,
        lr: float = 1e-3,
        **kwargs,
    ) -> None:
        super().__init__(
            input_shape, latent_dim, latent_activation=latent_activation, lr=lr, **kwargs
        )
        settings = {
            "backbone": backbone,
            "likelihood": likelihood,
            "beta": beta,
            "sigma": sigma,
            "hidden_sizes": hidden_sizes,
            "channels": channels,
            "kernel_size": kernel_size,
            "fc_sizes": fc_sizes,
            "activation": activation,
            "output_activation": output_activation,
            "num_images": num_images,
        }
        VariationalAutoencoder.SCHEMA.check_values("model", settings)
        _bernoulli_output(Context({"model": settings}))
        self.likelihood = likelihood
        self.beta = float(beta)
        self.sigma = None if sigma is None else float(sigma)
        self.num_images = num_images
        stacks = build_stacks(
            backbone,
            self.input_shape,
            latent_dim,
            head="features",
            hidden_sizes=hidden_sizes,
            channels=channels,
            kernel_size=kernel_size,
            fc_sizes=fc_sizes,
            activation=activation,
        )
        self.encoder, self.decoder = stacks.encoder, stacks.decoder
        features, m = stacks.features, latent_dim
        self.mu_head = nn.Linear(features, m)
        self.logvar_head = nn.Linear(features, m)
        self.latent_activation = make_activation(latent_activation, "latent_activation")
        self.output_activation = make_activation(output_activation, "output_activation")
        self._kl_sum: Tensor | None = None  # per-dimension KL summed over this epoch's samples
        self._kl_count = 0

    def start_from_data(self, x_train: Tensor, value_range: tuple[float, float]) -> None:
        low, high = value_range
        if self.likelihood == "bernoulli" and (low < 0 or high > 1):
            raise ConfigError(
                f"model.likelihood=bernoulli needs data in [0, 1], but these data range over "
                f"[{low:.3g}, {high:.3g}]; use model.likelihood=gaussian for this dataset"
            )

    # --- the variant API ----------------------------------------------------------------------
    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z|x)."""
        features = self.encoder(x)
        logvar = self.logvar_head(features).clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)
        return self.mu_head(features), logvar

    def _encode(self, x: Tensor) -> Tensor:
        return self.latent_activation(self.posterior(x)[0])

    def _decoder_output(self, z: Tensor) -> Tensor:
        """Logits (bernoulli) or the pre-activation mean (gaussian)."""
        return self.decoder(z)

    def _mean(self, output: Tensor) -> Tensor:
        return (
            output.sigmoid() if self.likelihood == "bernoulli" else self.output_activation(output)
        )

    def decode(self, z: Tensor) -> Tensor:
        """The mean image of p(x|z)."""
        return self._mean(self._decoder_output(z))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """`n` images decoded from z ~ N(0, I)."""
        z = torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        return self.decode(self.regularizer.sparsify(self.latent_activation(z)))

    # --- the step: the posterior and the likelihood ------------------------------------------
    def latent(self, x_in: Tensor, train: bool) -> Latent:
        """The posterior mean's code; in training a reparameterised sample is decoded."""
        mu, logvar = self.posterior(x_in)
        code = self.regularizer.sparsify(self.latent_activation(mu))
        if train:
            z = self.regularizer.sparsify(self.latent_activation(reparameterise(mu, logvar)))
        else:
            z = code
        kl_dims = gaussian_kl(mu, logvar)
        if train:
            self._accumulate_kl(kl_dims.detach())
        kl = kl_dims.sum(dim=1).mean()
        return Latent(code=code, z=z, terms={"kl": kl}, loss=self.beta * kl)

    def reconstruction(self, z: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """-log p(x|z) per sample, and the squared error of the mean image."""
        output = self._decoder_output(z)
        sse = ((self._mean(output) - x) ** 2).flatten(1).sum(dim=1)
        return self._negative_log_likelihood(output, x, sse), sse

    def monitored_terms(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"elbo": -(terms["recon"] + terms["kl"]).detach()}

    def _negative_log_likelihood(self, output: Tensor, x: Tensor, sse: Tensor) -> Tensor:
        """-log p(x|z) per sample (up to a constant for gaussian without sigma)."""
        if self.likelihood == "bernoulli":
            bce = nn.functional.binary_cross_entropy_with_logits(output, x, reduction="none")
            return bce.flatten(1).sum(dim=1)
        if self.sigma is None:
            return sse
        return sse / (2 * self.sigma**2) + self.input_dim * math.log(
            self.sigma * math.sqrt(2 * math.pi)
        )

    # --- scores: bounds on log p(x), K posterior samples in one batch --------------------------
    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) in nats for Gaussian latents z of shape (..., B, m) and x of shape (B, ...).

        bernoulli: minus the BCE summed over pixels (normalised for binary pixels; for grey levels
        the usual cross-entropy). gaussian: N(mean, sigma^2 I) with its normaliser; sigma=null
        trains on the plain squared error, i.e. this density with sigma^2 = 1/2:
        -log p(x|z) = sse + (n/2) log(pi).
        """
        code = self.regularizer.sparsify(self.latent_activation(z.flatten(0, -2)))
        output = self._decoder_output(code).view(*z.shape[:-1], *self.input_shape)
        x = x.expand_as(output)
        if self.likelihood == "bernoulli":
            nll = nn.functional.binary_cross_entropy_with_logits(output, x, reduction="none")
        else:
            sigma = math.sqrt(0.5) if self.sigma is None else self.sigma
            nll = (self._mean(output) - x) ** 2 / (2 * sigma**2) + math.log(
                sigma * math.sqrt(2 * math.pi)
            )
        return -nll.flatten(z.dim() - 1).sum(dim=-1)

    def _draw(
        self, x: Tensor, k: int, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """mu, logvar of q(z|x) and k samples z = mu + sigma * eps, eps and z of shape (k, B, m)."""
        mu, logvar = self.posterior(x)
        eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        return mu, logvar, eps, mu + eps * (0.5 * logvar).exp()

    def elbo_terms(
        self, x: Tensor, k: int = 1, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Per-sample ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), the expectation over k samples.

        Returns ``log_likelihood`` (the k-sample mean), ``kl`` (closed form) and ``elbo``, each (B,).
        """
        mu, logvar, _, z = self._draw(x, k, generator)
        log_likelihood = self.log_likelihood(x, z).mean(dim=0)
        kl = gaussian_kl(mu, logvar).sum(dim=1)
        return {"log_likelihood": log_likelihood, "kl": kl, "elbo": log_likelihood - kl}

    def iwae_bound(self, x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """Per-sample log (1/k) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x) (Burda et al.).

        A lower bound on log p(x) that tightens as k grows; k = 1 is the ELBO in expectation.
        The same generator state draws the same z_k as `elbo_terms`.
        """
        _, logvar, eps, z = self._draw(x, k, generator)
        log_prior = -0.5 * z.pow(2).sum(dim=-1)  # the (2 pi) terms of p and q cancel
        log_posterior = -0.5 * (eps.pow(2) + logvar).sum(dim=-1)
        log_weights = self.log_likelihood(x, z) + log_prior - log_posterior
        return torch.logsumexp(log_weights, dim=0) - math.log(k)

    # --- per-dimension KL, once per epoch -----------------------------------------------------
    def _accumulate_kl(self, kl_dims: Tensor) -> None:
        total = kl_dims.sum(dim=0)
        self._kl_sum = total if self._kl_sum is None else self._kl_sum + total
        self._kl_count += len(kl_dims)

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()  # the shared train/* and latent/* epoch metrics
        if self._kl_sum is None or self._kl_count == 0:
            return
        per_dim = self._kl_sum / self._kl_count
        self._kl_sum, self._kl_count = None, 0
        logged = {"train/active_dims": (per_dim > ACTIVE_KL).sum().float()}
        if self.latent_dim <= MAX_KL_SCALARS:
            logged.update({f"kl_dim/{j}": v for j, v in enumerate(per_dim)})
        self.log_dict(logged, sync_dist=True)
        for logger in self._tensorboard_loggers():
            logger.experiment.add_histogram("train/kl_per_dim", per_dim, self.current_epoch)

    def _tensorboard_loggers(self) -> list[TensorBoardLogger]:
        return [] if self._trainer is None else tensorboard_loggers(self.trainer)
