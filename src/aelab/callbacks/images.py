"""Each validation epoch, a grid of originals (top) and reconstructions (bottom) in TensorBoard."""

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from aelab.analysis.plots import image_grid


class ReconstructionImages(L.Callback):
    def __init__(self, num_samples: int = 8) -> None:
        self.num_samples = num_samples

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        if trainer.sanity_checking or trainer.global_rank != 0 or datamodule is None:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers:
            return
        x = datamodule.split("val")["x"][: self.num_samples].to(module.device)
        was_training = module.training
        module.eval()
        with torch.no_grad():
            x_hat = module.reconstruct(x)
        module.train(was_training)
        value_range = None if datamodule.render == "heightmap" else datamodule.value_range
        grid = image_grid([x, x_hat], datamodule.render, value_range)
        for logger in loggers:
            logger.experiment.add_image("val/reconstructions", grid, trainer.global_step)
