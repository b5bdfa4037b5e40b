"""Each validation epoch of a denoising run: how much the model cleans its own kind of noise.

A fixed slice of the validation split is corrupted with the regularizer's noise (a fixed seed, so
every epoch sees the same noisy inputs and training's random stream is untouched) and
reconstructed. Logged: ``val/psnr_noisy`` (noisy input vs clean), ``val/psnr_denoised``
(reconstruction of the noisy input vs clean) and ``val/denoise_gain_db`` (their difference), with
the peak set by the data's value range; and a TensorBoard grid, rows clean / noisy / denoised.
"""

import lightning as L
import torch
from torchmetrics.image import PeakSignalNoiseRatio

from aelab.callbacks.common import evaluating, tensorboard_loggers
from aelab.callbacks.images import grid_title
from aelab.metrics.plots import labelled_grid
from aelab.regularizers.noise import Denoising


class DenoisingMetrics(L.Callback):
    def __init__(self, num_samples: int = 512, grid_samples: int = 8, seed: int = 0) -> None:
        self.num_samples = num_samples
        self.grid_samples = grid_samples
        self.seed = seed

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        regularizer = getattr(module, "regularizer", None)
        if trainer.sanity_checking or datamodule is None or not isinstance(regularizer, Denoising):
            return
        x = datamodule.split("val")["x"][: self.num_samples].to(module.device)
        generator = torch.Generator(device=module.device).manual_seed(self.seed)
        noisy = regularizer.corrupt(x, generator=generator)
        with evaluating(module):
            denoised = module.reconstruct(noisy)

        # the peak is the width of the data's range; no clamping, so noise is counted in full
        low, high = datamodule.value_range
        psnr = PeakSignalNoiseRatio(data_range=high - low).to(module.device)
        psnr_noisy = psnr(noisy, x)
        psnr.reset()
        psnr_denoised = psnr(denoised, x)
        module.log("val/psnr_noisy", psnr_noisy)
        module.log("val/psnr_denoised", psnr_denoised)
        module.log("val/denoise_gain_db", psnr_denoised - psnr_noisy)

        loggers = tensorboard_loggers(trainer)
        if not loggers:
            return
        rows = [t[: self.grid_samples] for t in (x, noisy, denoised)]
        value_range = None if datamodule.render == "heightmap" else datamodule.value_range
        grid = labelled_grid(
            rows,
            ["clean", "noisy", "denoised"],
            datamodule.render,
            value_range,
            grid_title(module),
            datamodule.units,
        )
        for logger in loggers:
            logger.experiment.add_image("val/denoising", grid, trainer.global_step)
