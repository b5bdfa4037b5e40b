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
