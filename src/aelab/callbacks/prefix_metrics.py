"""The error of every reported prefix of the code, beside closed-form PCA at the same k.

For a model whose ordering reports prefix sizes (`aelab.ordered`), its validation and test
steps return the per-sample squared error of each prefix (``prefix_sse``, (K, B)); this callback
sums them over the split, with PCA's error at each k (PCA fitted on the training split: the
linear path's start when the model has one), and logs:

- ``val/mse@k``, ``val/pca_mse@k`` and ``val/prefix_mse_over_pca``: the mean over the prefixes
  of val/mse@k / val/pca_mse@k. It is the checkpoint criterion of ordered runs
  (``conf/ordered/nested.yaml``): errors at small k are orders of magnitude above those at
  large k, so a plain sum would select on the shortest prefix alone; divided by the best linear
  code of each size, every prefix counts alike, and 1 means "PCA at every k". Prefixes PCA
  reconstructs exactly (k >= the data's rank) are left out of the mean.
- ``test/mse@k``, ``test/pca_mse@k`` and ``test/mse_over_pca@k``;
- in TensorBoard, the run's curve as charts against k: ``curve/test/mse`` and
  ``curve/test/pca_mse`` with step k, both on one Custom Scalars chart.
"""

import lightning as L
import torch
from torch import Tensor

from aelab.metrics.pca import PCA, fit_pca

CRITERION = "val/prefix_mse_over_pca"
EXACT = 1e-12  # a PCA error below this (per feature) is exact: no ratio to it


def pca_prefix_sse(pca: PCA, x: Tensor, sizes: list[int]) -> Tensor:
    """(K, B) squared error of PCA with its first k components, for each k of `sizes`.

    One projection: with orthonormal components the error at k is the centred input's squared
    norm less the squares of its first k coordinates.
    """
    centred = x.flatten(1).to(pca.mean) - pca.mean
    coordinates = centred @ pca.components[: max(sizes)].T
    captured = torch.cumsum(coordinates**2, dim=1)
    total = (centred**2).sum(dim=1)
    index = torch.tensor(sizes) - 1
    return (total[None, :] - captured[:, index].T).clamp_min(0)


class PrefixMetrics(L.Callback):
    def __init__(self) -> None:
        self.pca: PCA | None = None
        self.model_sum: Tensor | None = None
        self.pca_sum: Tensor | None = None
        self.count = 0

    def _training_pca(self, trainer: L.Trainer, module: L.LightningModule) -> PCA | None:
        """PCA of the training split with enough components for every prefix (fitted once)."""
        sizes = module.ordering.sizes
        if self.pca is None or len(self.pca.components) < max(sizes):
            start = getattr(module, "start_pca", None)
            if start is not None and len(start.components) >= max(sizes):
                self.pca = start
            elif hasattr(trainer.datamodule, "split"):
                x_train = trainer.datamodule.split("train")["x"]
                self.pca = fit_pca(x_train, max(sizes), centred=True)
        return self.pca

    def _reset(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.model_sum = self.pca_sum = None
        self.count = 0
        if getattr(module, "ordering", None) is not None and module.ordering.sizes:
            self._training_pca(trainer, module)

    def _add(self, module: L.LightningModule, outputs: object, batch: dict[str, Tensor]) -> None:
        if not isinstance(outputs, dict) or "prefix_sse" not in outputs:
            return
        model_sse = outputs["prefix_sse"].double().sum(dim=1)
        self.model_sum = model_sse if self.model_sum is None else self.model_sum + model_sse
        if self.pca is not None:
            pca_sse = pca_prefix_sse(self.pca, batch["x"], module.ordering.sizes).sum(dim=1)
            pca_sse = pca_sse.to(model_sse)
            self.pca_sum = pca_sse if self.pca_sum is None else self.pca_sum + pca_sse
        self.count += outputs["prefix_sse"].shape[1]

    def _log(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        if self.model_sum is None:
            return
        reduce = trainer.strategy.reduce
        count = float(reduce(torch.tensor(float(self.count), device=module.device), "sum"))
        per_feature = count * module.input_dim
        mse = reduce(self.model_sum, "sum") / per_feature
        values = {f"{stage}/mse@{k}": v for k, v in zip(module.ordering.sizes, mse, strict=True)}
        if self.pca_sum is not None:
            pca = reduce(self.pca_sum, "sum") / per_feature
            values.update(
                {f"{stage}/pca_mse@{k}": v for k, v in zip(module.ordering.sizes, pca, strict=True)}
            )
            inexact = pca > EXACT
            ratios = mse[inexact] / pca[inexact]
            if stage == "test":
                sizes = [k for k, keep in zip(module.ordering.sizes, inexact, strict=True) if keep]
                values.update(
                    {f"test/mse_over_pca@{k}": r for k, r in zip(sizes, ratios, strict=True)}
                )
            elif len(ratios):
                values[CRITERION] = ratios.mean()
        module.log_dict({k: v.float() for k, v in values.items()})
        if stage == "test":
            self._log_curve(
                trainer, module.ordering.sizes, mse, pca if self.pca_sum is not None else None
            )
        self.model_sum = self.pca_sum = None

    @staticmethod
    def _log_curve(trainer: L.Trainer, sizes: list[int], mse: Tensor, pca: Tensor | None) -> None:
        """The test error against the prefix size k, as TensorBoard charts (step = k)."""
        from aelab.callbacks.common import tensorboard_loggers

        for logger in tensorboard_loggers(trainer):
            writer = logger.experiment
            tags = ["curve/test/mse"] + (["curve/test/pca_mse"] if pca is not None else [])
            for i, k in enumerate(sizes):
                writer.add_scalar(tags[0], float(mse[i]), k)
                if pca is not None:
                    writer.add_scalar(tags[1], float(pca[i]), k)
            chart = {"test error against the prefix size k": ["Multiline", tags]}
            writer.add_custom_scalars({"curve": chart})

    # --- validation and test ------------------------------------------------------------------
    def on_validation_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._reset(trainer, module)

    def on_validation_batch_end(
        self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        self._add(module, outputs, batch)

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._log(trainer, module, "val")

    def on_test_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._reset(trainer, module)

    def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
        self._add(module, outputs, batch)

    def on_test_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._log(trainer, module, "test")
