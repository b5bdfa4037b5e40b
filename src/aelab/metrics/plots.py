"""Pictures of samples: grey or colour images (MNIST, CIFAR-10), colour-mapped height maps for
terrain."""

import numpy as np
import torch
from torch import Tensor


def to_rgb(x: Tensor, render: str, value_range: tuple[float, float] | None = None) -> Tensor:
    """(N, C, H, W) samples -> (N, 3, H, W) floats in [0, 1].

    ``gray`` and ``rgb`` clamp to ``value_range``: the first three channels show in colour, a
    sample of fewer as the grey of its first channel. ``heightmap`` maps each row of samples to a
    terrain colour map with one shared scale, so an original and its reconstruction compare
    directly.
    """
    x = x.detach().float().cpu()
    low, high = value_range if value_range else (float(x.min()), float(x.max()))
    scaled = ((x - low) / max(high - low, 1e-8)).clamp(0, 1)
    if render == "heightmap":
        from matplotlib import colormaps

        rgba = colormaps["terrain"](scaled[:, 0].numpy())  # (N, H, W, 4)
        return torch.from_numpy(np.ascontiguousarray(rgba[..., :3])).permute(0, 3, 1, 2).float()
    return scaled[:, :3] if scaled.shape[1] >= 3 else scaled[:, :1].expand(-1, 3, -1, -1)


def image_grid(rows: list[Tensor], render: str, value_range=None, min_size: int = 56) -> Tensor:
    """Stack equally long rows of samples into one (3, H, W) grid image.

    Small patches are enlarged (nearest neighbour) to at least `min_size` pixels so that a 10 x 10
    terrain patch is visible in TensorBoard.
    """
    from torchvision.utils import make_grid

    if value_range is None and render == "heightmap":
        both = torch.cat([r.detach().float().cpu() for r in rows])
        value_range = (float(both.min()), float(both.max()))
    images = torch.cat([to_rgb(r, render, value_range) for r in rows])
    scale = max(1, -(-min_size // images.shape[-1]))
    rows_scale = max(scale, -(-(min_size // 4) // images.shape[-2]))  # vectors: a visible strip
    images = images.repeat_interleave(scale, dim=-1).repeat_interleave(rows_scale, dim=-2)
    return make_grid(images, nrow=len(rows[0]), padding=2, pad_value=1.0)


def labelled_grid(
    rows: list[Tensor],
    labels: list[str],
    render: str,
    value_range: tuple[float, float] | None = None,
    title: str = "",
    units=None,
) -> Tensor:
    """`image_grid` with a label left of each row, a title, and for height maps a colour bar in
    the data's units (`units`: a `aelab.data.base.Units`, e.g. metres). Returns (3, H, W)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if value_range is None and render == "heightmap":
        both = torch.cat([r.detach().float().cpu() for r in rows])
        value_range = (float(both.min()), float(both.max()))
    grid = image_grid(rows, render, value_range)
    height, width = grid.shape[1:]
    dpi, size = 100, 14  # type large enough to read once TensorBoard shrinks the picture
    longest = max((len(label) for label in labels), default=0)
    label_width = 0.15 + 0.11 * longest if longest else 0.1
    bar_width = 1.6 if render == "heightmap" else 0.0
    title_height = 0.45 if title else 0.1
    fig = Figure(
        figsize=(width / dpi + label_width + bar_width, height / dpi + title_height + 0.1),
        dpi=dpi,
    )
    FigureCanvasAgg(fig)
    left = label_width / fig.get_figwidth()
    right = 1 - bar_width / fig.get_figwidth()
    bottom = 0.05 / fig.get_figheight()
    ax = fig.add_axes((left, bottom, right - left, height / dpi / fig.get_figheight()))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_xticks([])
    step = height / len(rows)
    ax.set_yticks([step * (i + 0.5) for i in range(len(rows))], labels[: len(rows)], fontsize=size)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize=size)
    if render == "heightmap" and value_range is not None:
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        low, high = value_range
        name = "standardised altitude"
        if units is not None:
            low, high = units.offset + units.scale * low, units.offset + units.scale * high
            name = f"altitude ({units.name})"
        bar_ax = fig.add_axes(
            (right + 0.15 / fig.get_figwidth(), 0.1, 0.15 / fig.get_figwidth(), 0.8)
        )
        mappable = ScalarMappable(Normalize(low, high), colormaps["terrain"])
        bar = fig.colorbar(mappable, cax=bar_ax)
        bar.set_label(name, fontsize=size - 3)
        bar.ax.tick_params(labelsize=size - 4)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1).float() / 255.0
