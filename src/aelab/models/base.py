"""Shared LightningModule logic for every autoencoder variant: the step sequence, written once.

A variant defines ``_encode(x) -> z`` and ``decode(z) -> x_hat``; this base offers the common
API (``encode``, ``decode``, ``forward``, ``embed``, ``reconstruct``, ``interpolate``) and the
step: ``corrupt`` -> ``latent`` (encode, sparsify; a variant with a posterior overrides it) ->
``reconstruction`` (decode and score; a variant with a likelihood overrides it) -> ``penalty``.
The loss terms are logged per epoch.

The module never reaches into the data: what it needs from the training split it is handed
(`start_from_data`, called by `aelab.callbacks.data_start.DataStart`), and the test-time
baselines (closed-form PCA, the noise probe) are computed beside it by
`aelab.callbacks.baselines.BaselineMetrics`, from the per-sample errors ``test_step`` returns.

Loss reduction: squared error summed over the features of a sample, mean over the batch
(``recon``); ``mse`` is the same per feature (pixel), comparable across datasets and papers.
"""

import math
from dataclasses import dataclass, field

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MeanMetric

from aelab.errors import ConfigError
from aelab.metrics.pca import PCA
from aelab.models.layers import ACTIVATIONS
from aelab.models.linear_path import LinearPath, zero_last_layer
from aelab.ordered.base import Ordering, pad_code, prefix_sse, truncate
from aelab.regularizers.base import Regularizer, Step
from aelab.schema.keys import Context, Key, Target
from aelab.schema.types import Choice, Number

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULERS = ("none", "cosine", "onecycle")
LINEAR_PATH_OUTPUTS = ("identity", "unit_clip")
#: the config keys of every autoencoder (this base's arguments), declared once for all variants
OPTIMISATION = (
    Key("latent_activation", Choice(ACTIVATIONS), "identity"),
    Key("optimizer", Choice(OPTIMIZERS), "adam"),
    Key("lr", Number(gt=0), 0.002),
    Key("weight_decay", Number(ge=0), 0.0),
    Key("scheduler", Choice(SCHEDULERS), "cosine"),
)


@dataclass
class Latent:
    """The latent side of one step."""

    code: Tensor  # the deterministic code (what ``embed`` gives), seen by penalties
    z: Tensor  # what is decoded this step (a posterior sample when a VAE trains)
    terms: dict[str, Tensor] = field(default_factory=dict)  # posterior terms, logged (the KL)
    loss: Tensor | float = 0.0  # their weighted sum, added to the loss


class AutoencoderModule(L.LightningModule):
    """Base of all variants; hyperparameters are primitives so checkpoints load weights-only."""

    SCHEMA = Target(keys=OPTIMISATION)  # a variant's SCHEMA declares only the keys it adds

    def __init__(
        self,
        input_shape: list[int],
        latent_dim: int,
        regularizer: Regularizer | None = None,
        ordering: Ordering | None = None,
        latent_activation: str = "identity",
        optimizer: str = "adam",
        lr: float = 0.002,
        weight_decay: float = 0.0,
        scheduler: str = "cosine",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["regularizer", "ordering"])
        if not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ConfigError(f"latent dimension must be a positive integer, got {latent_dim!r}")
        settings = {
            "latent_activation": latent_activation,
            "optimizer": optimizer,
            "lr": lr,
            "weight_decay": weight_decay,
            "scheduler": scheduler,
        }
        AutoencoderModule.SCHEMA.check_values("model", settings)
        self.input_shape = tuple(input_shape)
        self.input_dim = math.prod(self.input_shape)
        self.latent_dim = latent_dim
        self.regularizer = regularizer or Regularizer()
        self.regularizer.check(latent_dim, latent_activation)
        self.ordering = ordering or Ordering()
        self.ordering.bind(latent_dim, self.input_dim)
        self.test_mse = MeanMetric()
        self._epoch_sums: dict[str, Tensor] = {}
        self._epoch_weight = 0
        self.start_pca: PCA | None = None  # the linear path's start, set by `start_from_data`

    # --- the variant API ----------------------------------------------------------------------
    def _encode(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def encode(self, x: Tensor) -> Tensor:
        return self.regularizer.sparsify(self._encode(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def embed(self, x: Tensor, k: int | None = None) -> Tensor:
        """The latent used for plots and probes (the posterior mean for a VAE); with `k`, its
        first k latents (a prefix code, see `aelab.ordered`)."""
        z = self.encode(x)
        return z if k is None else z[:, :k]

    def decode_prefix(self, z: Tensor) -> Tensor:
        """Decode a code of k <= m latents (B, k): the latents after the k-th at zero."""
        return self.decode(pad_code(z, self.latent_dim))

    @torch.no_grad()
    def reconstruct(self, x: Tensor, k: int | None = None) -> Tensor:
        """The reconstruction from the whole code, or from its first `k` latents."""
        z = self.embed(x)
        return self.decode(z if k is None else truncate(z, k))

    @torch.no_grad()
    def interpolate(self, x0: Tensor, x1: Tensor, steps: int = 8) -> Tensor:
        """Decode `steps` points on the segment between the embeddings of x0 and x1 (one each)."""
        z0, z1 = self.embed(x0[None]), self.embed(x1[None])
        t = torch.linspace(0, 1, steps, device=z0.device)[:, None]
        return self.decode((1 - t) * z0 + t * z1)

    # --- the optional linear path started at PCA (see aelab.models.linear_path) -----------------
    def start_linear_path(self, enabled: bool, output_activation: str) -> LinearPath | None:
        """The PCA-started linear path when `enabled`.

        The output activation applies to the sum of both paths, so it must leave the PCA
        reconstruction as it is (identity) or only clip it to the data's range (unit_clip).
        """
        from aelab.models.backbones import linear_path_output  # backbones imports this module

        values = {"linear_path": enabled, "output_activation": output_activation}
        linear_path_output(Context({"model": values}))  # the schema's rule, its message
        if not enabled:
            return None
        return LinearPath(self.input_dim, self.latent_dim)

    @torch.no_grad()
    def restart_at_pca(self, pca: PCA) -> None:
        """Back to the start: zero the last layers of the non-linear parts, the path at `pca`."""
        zero_last_layer(self.encoder)
        zero_last_layer(self.decoder)
        self.pca_path.start_at(pca)

    def start_from_data(self, x_train: Tensor, value_range: tuple[float, float]) -> None:
        """Before training: start what depends on the training split (the linear path at PCA).

        Called once per training job, before a checkpoint is restored, so a resumed run restores
        its own weights. The fitted PCA is kept as ``start_pca``, so the start can be rebuilt.
        """
        path = getattr(self, "pca_path", None)
        if path is not None:
            self.start_pca = path.fit(x_train.flatten(1))

    # --- the step, written once ---------------------------------------------------------------
    def latent(self, x_in: Tensor, train: bool) -> Latent:
        """The code of the encoder's input; a variant with a posterior samples `z` from it."""
        code = self.encode(x_in)
        return Latent(code=code, z=code)

    def reconstruction(self, z: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per sample: the reconstruction loss (-log p(x|z) up to a constant) and squared error.

        Plain autoencoders minimise the squared error itself.
        """
        sse = ((self.decode(z) - x) ** 2).flatten(1).sum(dim=1)
        return sse, sse

    def monitored_terms(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Extra logged quantities computed from the terms (not optimised)."""
        return {}

    def loss_terms(
        self, batch: dict[str, Tensor], train: bool
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """Named loss terms (``loss`` is their total), the per-sample squared error, the code.

        The squared error is against the clean input, whatever the regularizer fed the encoder.
        """
        x = batch["x"]
        x_in = self.regularizer.corrupt(x) if train else x
        latent = self.latent(x_in, train)
        if train:  # an ordering decodes truncated codes (aelab.ordered)
            nll, sse = self.ordering.reconstruction(self.reconstruction, latent.z, x)
        else:
            nll, sse = self.reconstruction(latent.z, x)
        step = Step(z=latent.code, x=x, x_in=x_in, model=self, batch=batch, train=train)
        penalties = self.regularizer.penalty(step)
        terms = {"recon": nll.mean(), **latent.terms, **penalties}
        terms["loss"] = terms["recon"] + latent.loss + sum(penalties.values())
        terms.update(self.monitored_terms(terms))
        return terms, sse, latent.code

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        terms, _, z = self.loss_terms(batch, train=True)
        values = {f"train/{k}": v.detach() for k, v in terms.items()}
        if self.regularizer.tracks_sparsity:
            values.update(
                {f"latent/{k}": v for k, v in self.regularizer.statistics(z.detach()).items()}
            )
        self._accumulate_epoch(values, len(batch["x"]))
        return terms["loss"]

    def _accumulate_epoch(self, values: dict[str, Tensor], weight: int) -> None:
        """Sum training metrics on the device; logged once per epoch (no per-step overhead)."""
        for key, value in values.items():
            total = self._epoch_sums.get(key)
            self._epoch_sums[key] = value * weight if total is None else total + value * weight
        self._epoch_weight += weight

    def on_train_epoch_end(self) -> None:
        if self._epoch_weight:
            means = {k: v / self._epoch_weight for k, v in self._epoch_sums.items()}
            self.log_dict(means, sync_dist=True)
        self._epoch_sums, self._epoch_weight = {}, 0

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        terms, sse, code = self.loss_terms(batch, train=False)
        metrics = {f"val/{k}": v for k, v in terms.items()}
        metrics["val/sse"] = sse.mean()
        metrics["val/mse"] = sse.mean() / self.input_dim
        self.log_dict(metrics, on_epoch=True, batch_size=len(sse), sync_dist=True)
        return self._step_outputs(batch, sse, code)

    def _step_outputs(self, batch: dict[str, Tensor], sse: Tensor, code: Tensor) -> dict:
        """Per-sample errors for the callbacks beside the model: the whole code's, and each
        reported prefix's (K, B) when the ordering has prefix sizes (`PrefixMetrics`)."""
        outputs = {"sse": sse.detach()}
        if self.ordering.sizes:
            outputs["prefix_sse"] = prefix_sse(
                self.reconstruction, code, batch["x"], self.ordering.sizes
            ).detach()
        return outputs

    # --- test: the model's error; baselines beside it come from `BaselineMetrics` ----------------
    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        terms, sse, code = self.loss_terms(batch, train=False)
        self.log_dict(
            {"test/loss": terms["loss"], "test/sse": sse.mean()},
            on_epoch=True,
            batch_size=len(sse),
            sync_dist=True,
        )
        self.test_mse.update(sse / self.input_dim)
        return self._step_outputs(batch, sse, code)

    def on_test_epoch_end(self) -> None:
        if self.test_mse.update_called:
            self.log("test/mse", self.test_mse.compute())
        self.test_mse.reset()

    # --- checkpoints: what a resumed run needs beyond the weights ------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["torch_rng_state"] = torch.get_rng_state()  # noise and sampling resume exactly
        checkpoint["regularizer_state"] = self.regularizer.state_dict()  # e.g. dead-latent counts

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.regularizer.load_state_dict(checkpoint.get("regularizer_state", {}))
        trainer = self._trainer
        if "torch_rng_state" in checkpoint and trainer is not None and trainer.training:
            torch.set_rng_state(checkpoint["torch_rng_state"])

    # --- optimisation -------------------------------------------------------------------------
    def configure_optimizers(self):
        hp = self.hparams
        optimizer = OPTIMIZERS[hp.optimizer](
            self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay
        )
        if hp.scheduler == "none":
            return optimizer
        # both schedules span the run's step budget (trainer.max_steps, or fewer when
        # trainer.max_epochs ends it first)
        steps = max(1, self.trainer.estimated_stepping_batches)
        if hp.scheduler == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        else:
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=hp.lr, total_steps=steps
            )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
