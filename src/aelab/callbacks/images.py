"""Each validation epoch, a grid of originals (top) and reconstructions (bottom) in TensorBoard."""

import lightning as L

from aelab.callbacks.common import evaluating, tensorboard_loggers
from aelab.metrics.plots import image_grid


class ReconstructionImages(L.Callback):
    def __init__(self, num_samples: int = 8) -> None:
        self.num_samples = num_samples

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        loggers = tensorboard_loggers(trainer)
        if trainer.sanity_checking or datamodule is None or not loggers:
            return
        x = datamodule.split("val")["x"][: self.num_samples].to(module.device)
        with evaluating(module):
            x_hat = module.reconstruct(x)
        value_range = None if datamodule.render == "heightmap" else datamodule.value_range
        grid = image_grid([x, x_hat], datamodule.render, value_range)
        for logger in loggers:
            logger.experiment.add_image("val/reconstructions", grid, trainer.global_step)
