"""Each validation epoch, a histogram of latent activations in TensorBoard (sparsity runs only)."""

import lightning as L

from aelab.callbacks.common import evaluating, tensorboard_loggers


class LatentHistogram(L.Callback):
    """Encodes the first `num_samples` validation inputs and logs all their latent values."""

    def __init__(self, num_samples: int = 512) -> None:
        self.num_samples = num_samples

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        regularizer = getattr(module, "regularizer", None)
        loggers = tensorboard_loggers(trainer)
        if trainer.sanity_checking or datamodule is None or not loggers:
            return
        if regularizer is None or not regularizer.tracks_sparsity:
            return
        x = datamodule.split("val")["x"][: self.num_samples].to(module.device)
        with evaluating(module):
            z = module.encode(x)
        for logger in loggers:
            logger.experiment.add_histogram("latent/activations", z.cpu(), trainer.global_step)
