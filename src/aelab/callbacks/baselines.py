"""At test time, beside the model: closed-form PCA at the same m, the noise probe, the subspace.

Logged with the model's own ``test/mse`` (per-sample errors come from ``test_step``):

- ``test/pca_mse`` / ``test/pca_uncentred_mse``: closed-form PCA with m components fitted on the
  training split (centred, and through the origin), scored on the test split; ``test/mse_over_pca``
  is the model's error over the centred one (1: as good as the best linear map);
- ``test/noise_mse``: the model's error on uniform noise over the data's value range, with
  ``test/noise_mse_mean``, the exact expected error of answering the training mean, and their
  ratio ``test/noise_mse_over_mean`` (0: the identity; 1: the input is ignored);
- ``test/max_principal_angle_deg`` for the linear AE: between its subspace and PCA's; and axis
  by axis (`aelab.metrics.subspace.axis_report`): the angle of its j-th encoder direction to the
  j-th principal axis with that axis's eigen-gap, in result.json's ``axes`` (`records`), as the
  scalar ``test/axis_angle_deg`` at step j in TensorBoard, and summed up as
  ``test/max_axis_angle_deg`` (over the axes whose gap resolves them) and ``test/resolved_axes``.
"""

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MeanMetric

from aelab.callbacks.common import tensorboard_loggers
from aelab.metrics.pca import PCA, fit_pca
from aelab.metrics.subspace import axis_report, max_principal_angle_deg


class BaselineMetrics(L.Callback):
    def __init__(self) -> None:
        self.pca: dict[str, PCA] = {}
        self.means: dict[str, MeanMetric] = {}
        self.noise_range = (0.0, 1.0)
        self.noise_mse_mean: float | None = None
        self.x_train: Tensor | None = None
        self.axes: list[dict[str, float]] = []  # a linear AE's axes against PCA's, in order

    def on_test_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        self.means = {name: MeanMetric().to(module.device) for name in ("mse", "noise_mse")}
        self.pca, self.noise_mse_mean, self.x_train, self.axes = {}, None, None, []
        if not hasattr(datamodule, "split"):
            return
        x_train = self.x_train = datamodule.split("train")["x"]
        # a model with a linear path fitted this very PCA on this split when training started
        centred = getattr(module, "start_pca", None)
        self.pca = {
            "pca_mse": centred or fit_pca(x_train, module.latent_dim, centred=True),
            "pca_uncentred_mse": fit_pca(x_train, module.latent_dim, centred=False),
        }
        for name in self.pca:
            self.means[name] = MeanMetric().to(module.device)
        self.noise_range = low, high = datamodule.value_range
        # the expected error of answering the training mean whatever the input, on noise uniform
        # over [low, high]: its variance plus its mean's distance from the data mean
        mean = self.pca["pca_mse"].mean  # the training mean, float64 (read in chunks if mapped)
        offset = ((low + high) / 2 - mean) ** 2
        self.noise_mse_mean = (high - low) ** 2 / 12 + float(offset.mean())

    @torch.no_grad()
    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        module: L.LightningModule,
        outputs: dict[str, Tensor] | None,
        batch: dict[str, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not isinstance(outputs, dict) or "sse" not in outputs:
            return
        x, sse, n = batch["x"], outputs["sse"], module.input_dim
        self.means["mse"].update(sse / n)
        for name, pca in self.pca.items():
            self.means[name].update(pca.reconstruction_sse(x).to(sse) / n)
        low, high = self.noise_range
        noise = torch.rand_like(x) * (high - low) + low
        noise_sse = ((module(noise) - noise) ** 2).flatten(1).sum(dim=1)
        self.means["noise_mse"].update(noise_sse / n)

    def on_test_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        values = {k: m.compute() for k, m in self.means.items() if m.update_called}
        mse = values.pop("mse", None)
        if mse is not None and "pca_mse" in values and values["pca_mse"] > 1e-12:
            values["mse_over_pca"] = mse / values["pca_mse"]  # PCA is exact when m >= rank
        if "noise_mse" in values and self.noise_mse_mean:
            values["noise_mse_mean"] = self.noise_mse_mean
            values["noise_mse_over_mean"] = values["noise_mse"] / self.noise_mse_mean
        if self.x_train is not None and _is_linear(module):
            values["max_principal_angle_deg"] = float(max_principal_angle_deg(module, self.x_train))
            values.update(self._axes(trainer, module))
        if values:
            module.log_dict({f"test/{k}": v for k, v in values.items()})
        self.means = {}

    def _axes(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, float]:
        """The per-axis report of a linear AE (against the PCA its variant reaches)."""
        centred = getattr(module, "variant", "pca") == "pca"
        pca = self.pca["pca_mse" if centred else "pca_uncentred_mse"]
        self.axes = axis_report(module, pca)
        for logger in tensorboard_loggers(trainer):
            for axis in self.axes:
                logger.experiment.add_scalar("test/axis_angle_deg", axis["angle_deg"], axis["axis"])
        resolved = [axis["angle_deg"] for axis in self.axes if axis["resolved"]]
        summary = {"resolved_axes": float(len(resolved))}
        if resolved:
            summary["max_axis_angle_deg"] = max(resolved)
        return summary

    def records(self) -> dict[str, list[dict[str, float]]]:
        """What result.json holds beyond the metrics: a linear AE's axes (empty otherwise)."""
        return {"axes": self.axes} if self.axes else {}


def _is_linear(module: L.LightningModule) -> bool:
    from aelab.models.linear import LinearAutoencoder

    return isinstance(module, LinearAutoencoder)
