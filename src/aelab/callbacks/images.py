"""Each validation epoch, pictures in TensorBoard: reconstructions, and samples for generators.

- ``val/reconstructions``: originals (top) and reconstructions (bottom);
- for models that sample (VAEs): ``val/samples``, two rows decoded from the prior (a fixed
  generator, so epochs compare), and ``val/interpolation``, x0, the decoded segment between the
  codes of two validation inputs, x1. The model's ``num_images`` sets the row length.
"""

import lightning as L
import torch

from aelab.callbacks.common import evaluating, tensorboard_loggers
from aelab.metrics.plots import labelled_grid


class ReconstructionImages(L.Callback):
    def __init__(self, num_samples: int = 8) -> None:
        self.num_samples = num_samples

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        loggers = tensorboard_loggers(trainer)
        if trainer.sanity_checking or datamodule is None or not loggers:
            return
        x = datamodule.split("val")["x"][: self.num_samples].to(module.device)
        value_range = None if datamodule.render == "heightmap" else datamodule.value_range
        with evaluating(module):
            x_hat = module.reconstruct(x)
        title = grid_title(module)
        grid = labelled_grid(
            [x, x_hat], ["input", "model"], datamodule.render, value_range, title, datamodule.units
        )
        images = {"val/reconstructions": grid}
        if callable(getattr(module, "sample", None)) and len(x) >= 2:
            images.update(generated_images(module, x, datamodule, value_range, title))
        for logger in loggers:
            for name, image in images.items():
                logger.experiment.add_image(name, image, trainer.global_step)


def grid_title(module) -> str:
    """The model, its η and m, above its pictures."""
    m, n = module.latent_dim, module.input_dim
    return f"{type(module).__name__}, η = {m / n:.3g}, m = {m}"


def generated_images(
    module, x: torch.Tensor, datamodule, value_range, title: str
) -> dict[str, torch.Tensor]:
    """Prior samples and an interpolation between the first two inputs, as image grids."""
    render, units = datamodule.render, datamodule.units
    k = getattr(module, "num_images", 8)
    samples = module.sample(2 * k, generator=torch.Generator().manual_seed(0))
    strip = torch.cat([x[:1], module.interpolate(x[0], x[1], steps=k), x[1:2]])  # x0 ... x1
    return {
        "val/samples": labelled_grid(
            [samples[:k], samples[k:]], ["prior samples"] * 2, render, value_range, title, units
        ),
        "val/interpolation": labelled_grid([strip], ["x₀ … x₁"], render, value_range, title, units),
    }
