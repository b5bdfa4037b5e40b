"""Where the evaluation tasks write their pictures: PNG files beside eval.json and TensorBoard."""

from pathlib import Path

import matplotlib.image
import torch
from matplotlib.figure import Figure
from torch.utils.tensorboard import SummaryWriter

from aelab.metrics.plots import labelled_grid


class Outputs:
    """Writes each figure twice: a PNG in the eval run directory and an entry in TensorBoard."""

    def __init__(self, output_dir: Path, title: str = "") -> None:
        self.dir = output_dir
        self.title = title  # above every grid: the model, its η and m
        self.writer = SummaryWriter(str(output_dir / "tensorboard"))

    def figure(self, name: str, figure: Figure) -> str:
        """Save a Matplotlib figure as `name`.png; returns the file name."""
        figure.savefig(self.dir / f"{name}.png", dpi=110)
        self.writer.add_figure(name, figure, close=False)
        return f"{name}.png"

    def grid(self, name: str, rows: list[torch.Tensor], datamodule, labels: list[str]) -> str:
        """Rows of samples pictured like the data (grey images or height maps), each row
        labelled, height maps with a colour bar in the data's units."""
        value_range = None if datamodule.render == "heightmap" else datamodule.value_range
        grid = labelled_grid(
            rows, labels, datamodule.render, value_range, self.title, datamodule.units
        )
        matplotlib.image.imsave(self.dir / f"{name}.png", grid.permute(1, 2, 0).numpy())
        self.writer.add_image(name, grid)
        return f"{name}.png"

    def close(self) -> None:
        self.writer.close()
