"""Each validation epoch, a histogram of latent activations in TensorBoard (sparsity runs only)."""

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger


class LatentHistogram(L.Callback):
    """Encodes the first `num_samples` validation inputs and logs all their latent values."""

    def __init__(self, num_samples: int = 512) -> None:
        self.num_samples = num_samples

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        regularizer = getattr(module, "regularizer", None)
        if trainer.sanity_checking or trainer.global_rank != 0 or datamodule is None:
            return
        if regularizer is None or not regularizer.tracks_sparsity:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers:
            return
        x = datamodule.split("val")["x"][: self.num_samples].to(module.device)
        was_training = module.training
        module.eval()
        with torch.no_grad():
            z = module.encode(x)
        module.train(was_training)
        for logger in loggers:
            logger.experiment.add_histogram("latent/activations", z.cpu(), trainer.global_step)
