"""Shared LightningModule logic for every autoencoder variant.

A variant defines ``_encode(x) -> z`` and ``decode(z) -> x_hat``; this base offers the common
API (``encode``, ``decode``, ``forward``, ``embed``, ``reconstruct``, ``interpolate``), applies the
regularizer (``corrupt`` -> encode -> ``sparsify`` -> decode -> ``penalty``), logs the loss terms,
and at test time compares the model with closed-form PCA at the same latent size.

Loss reduction: squared error summed over the features of a sample, mean over the batch
(``recon``); ``mse`` is the same per feature (pixel), comparable across datasets and papers.
"""

import math

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MeanMetric

from aelab.errors import ConfigError
from aelab.metrics.pca import PCA, fit_pca
from aelab.models.linear_path import LinearPath, zero_last_layer
from aelab.regularizers.base import Regularizer, Step

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULERS = ("none", "cosine", "onecycle")
LINEAR_PATH_OUTPUTS = ("identity", "unit_clip")


class AutoencoderModule(L.LightningModule):
    """Base of all variants; hyperparameters are primitives so checkpoints load weights-only."""

    def __init__(
        self,
        input_shape: list[int],
        latent_dim: int,
        regularizer: Regularizer | None = None,
        latent_activation: str = "identity",
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str = "none",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["regularizer"])
        if not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ConfigError(f"latent dimension must be a positive integer, got {latent_dim!r}")
        if optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown model.optimizer {optimizer!r}; choose {', '.join(OPTIMIZERS)}"
            )
        if scheduler not in SCHEDULERS:
            raise ConfigError(
                f"unknown model.scheduler {scheduler!r}; choose {', '.join(SCHEDULERS)}"
            )
        if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
            raise ConfigError(f"model.lr must be a positive number, got {lr!r}")
        if not (isinstance(weight_decay, int | float) and weight_decay >= 0):
            raise ConfigError(f"model.weight_decay must be >= 0, got {weight_decay!r}")
        self.input_shape = tuple(input_shape)
        self.input_dim = math.prod(self.input_shape)
        self.latent_dim = latent_dim
        self.regularizer = regularizer or Regularizer()
        self.regularizer.check(latent_dim, latent_activation)
        self.test_metrics = torch.nn.ModuleDict(
            {name: MeanMetric() for name in ("mse", "pca_mse", "pca_uncentred_mse", "noise_mse")}
        )
        self._pca: dict[str, PCA] = {}
        self._epoch_sums: dict[str, Tensor] = {}
        self._epoch_weight = 0
        self.start_pca: PCA | None = None  # the linear path's start, set by `setup`
        self.run_config: dict | None = None  # the resolved Hydra config (primitives), if any

    # --- the variant API ----------------------------------------------------------------------
    def _encode(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def encode(self, x: Tensor) -> Tensor:
        return self.regularizer.sparsify(self._encode(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def embed(self, x: Tensor) -> Tensor:
        """The latent used for plots and probes (the posterior mean for a VAE)."""
        return self.encode(x)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.embed(x))

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
        if not enabled:
            return None
        if output_activation not in LINEAR_PATH_OUTPUTS:
            raise ConfigError(
                f"model.linear_path=true needs model.output_activation in "
                f"{', '.join(LINEAR_PATH_OUTPUTS)} (the output starts at the PCA "
                f"reconstruction), got {output_activation!r}; e.g. "
                f"model.output_activation=unit_clip for data in [0, 1], or model.linear_path=false"
            )
        return LinearPath(self.input_dim, self.latent_dim)

    @torch.no_grad()
    def restart_at_pca(self, pca: PCA) -> None:
        """Back to the start: zero the last layers of the non-linear parts, the path at `pca`."""
        zero_last_layer(self.encoder)
        zero_last_layer(self.decoder)
        self.pca_path.start_at(pca)

    def setup(self, stage: str) -> None:
        """Start the linear path at PCA of the training split (a resumed run then restores it).

        The fitted PCA is kept as ``start_pca`` so the start can be rebuilt without a refit.
        """
        path = getattr(self, "pca_path", None)
        datamodule = getattr(self.trainer, "datamodule", None)
        if path is not None and stage == "fit" and hasattr(datamodule, "split"):
            self.start_pca = path.fit(datamodule.split("train")["x"].flatten(1))

    # --- losses -------------------------------------------------------------------------------
    def loss_terms(
        self, batch: dict[str, Tensor], train: bool
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """Named loss terms (``loss`` is their total), the per-sample squared error, the latent.

        The squared error is against the clean input, whatever the regularizer fed the encoder.
        """
        x = batch["x"]
        x_in = self.regularizer.corrupt(x) if train else x
        z = self.encode(x_in)
        sse = ((self.decode(z) - x) ** 2).flatten(1).sum(dim=1)
        step = Step(z=z, x=x, x_in=x_in, model=self, batch=batch, train=train)
        terms = {"recon": sse.mean(), **self.regularizer.penalty(step)}
        terms["loss"] = sum(terms.values())
        return terms, sse, z

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

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        terms, sse, _ = self.loss_terms(batch, train=False)
        metrics = {f"val/{k}": v for k, v in terms.items()}
        metrics["val/sse"] = sse.mean()
        metrics["val/mse"] = sse.mean() / self.input_dim
        self.log_dict(metrics, on_epoch=True, batch_size=len(sse), sync_dist=True)

    # --- test: the model against closed-form PCA at the same latent size ----------------------
    def on_test_epoch_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        self._pca = {}
        self._noise_range = (0.0, 1.0)
        self._noise_mse_mean = None
        if datamodule is not None and hasattr(datamodule, "split"):
            x_train = datamodule.split("train")["x"]
            self._pca = {
                "pca_mse": fit_pca(x_train, self.latent_dim, centred=True),
                "pca_uncentred_mse": fit_pca(x_train, self.latent_dim, centred=False),
            }
            self._noise_range = low, high = datamodule.value_range
            # the expected error of answering the training mean whatever the input, on noise
            # uniform over [low, high]: its variance plus its mean's distance from the data mean
            mean = x_train.flatten(1).double().mean(dim=0)
            offset = ((low + high) / 2 - mean) ** 2
            self._noise_mse_mean = (high - low) ** 2 / 12 + float(offset.mean())

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        terms, sse, _ = self.loss_terms(batch, train=False)
        x = batch["x"]
        self.log_dict(
            {"test/loss": terms["loss"], "test/sse": sse.mean()},
            on_epoch=True,
            batch_size=len(sse),
            sync_dist=True,
        )
        self.test_metrics["mse"].update(sse / self.input_dim)
        for name, pca in self._pca.items():
            pca_sse = pca.reconstruction_sse(x).to(sse)
            self.test_metrics[name].update(pca_sse / self.input_dim)
        low, high = self._noise_range
        noise = torch.rand_like(x) * (high - low) + low
        noise_sse = ((self.forward(noise) - noise) ** 2).flatten(1).sum(dim=1)
        self.test_metrics["noise_mse"].update(noise_sse / self.input_dim)

    def on_test_epoch_end(self) -> None:
        values = {
            name: metric.compute()
            for name, metric in self.test_metrics.items()
            if metric.update_called
        }
        if "pca_mse" in values and values["pca_mse"] > 1e-12:  # PCA is exact when m >= rank
            values["mse_over_pca"] = values["mse"] / values["pca_mse"]
        if "noise_mse" in values and self._noise_mse_mean:  # 0: the identity; 1: the data mean
            values["noise_mse_mean"] = self._noise_mse_mean
            values["noise_mse_over_mean"] = values["noise_mse"] / self._noise_mse_mean
        self.log_dict({f"test/{k}": v for k, v in values.items()})
        for metric in self.test_metrics.values():
            metric.reset()

    # --- checkpoints carry the resolved run config, so a checkpoint alone rebuilds the run ------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.run_config is not None:
            checkpoint["aelab_config"] = self.run_config
        checkpoint["torch_rng_state"] = torch.get_rng_state()  # noise and sampling resume exactly
        checkpoint["regularizer_state"] = self.regularizer.state_dict()  # e.g. dead-latent counts

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.run_config = checkpoint.get("aelab_config", self.run_config)
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
        if hp.scheduler == "cosine":
            epochs = max(1, self.trainer.max_epochs or 1)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
            }
        steps = max(1, self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=hp.lr, total_steps=steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
