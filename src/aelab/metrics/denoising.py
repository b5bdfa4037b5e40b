"""Denoising quality: how much cleaner the reconstruction of a noisy input is than the noisy input.

For each noise level, the inputs are corrupted (the denoising regularizer's noise, seeded:
``gaussian`` level = sigma in data units, ``masking`` / ``salt_and_pepper`` level = fraction of
pixels) and reconstructed. PSNR and SSIM (torchmetrics) of the noisy and the reconstructed inputs
against the clean ones, with the peak set by the width of the data's value range and the values
counted from its low end (an input in [-3, 5] scores as the same picture mapped to [0, 1]).

The noise follows the data's value range (low, high): salt and pepper sets pixels to high or low,
masking sets them to 0, or to the nearer end of the range when it does not hold 0. Inputs of any
shape (N, C, H, W) are scored, vectors (N, C, 1, d) too (their SSIM window is one value wide).
"""

import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from aelab.errors import ConfigError
from aelab.regularizers.noise import KINDS, Denoising


def ssim_kernel(height: int, width: int) -> int:
    """The SSIM window: 11 (the usual) or the largest odd size that fits a small image."""
    size = min(11, height, width)
    return size if size % 2 else size - 1


def check_noise(kind: str, levels: list[float]) -> None:
    """Raise `ConfigError` for an unknown noise kind or a bad list of levels."""
    if kind not in KINDS:
        raise ConfigError(f"unknown denoising.kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not levels or any(
        isinstance(v, bool) or not isinstance(v, int | float) or v < 0 for v in levels
    ):
        raise ConfigError(
            f"denoising.levels must be a non-empty list of noise levels >= 0, got {levels!r}; "
            "e.g. denoising.levels=[0.1,0.3,0.5]"
        )
    if kind != "gaussian" and any(v > 1 for v in levels):
        raise ConfigError(
            f"denoising.levels of denoising.kind={kind} are fractions of pixels in [0, 1], got "
            f"{levels!r}; e.g. denoising.levels=[0.1,0.3,0.5]"
        )


def mask_value(value_range: tuple[float, float]) -> float:
    """What masking sets a pixel to: 0, or the nearer end of the value range if it lacks 0."""
    low, high = float(value_range[0]), float(value_range[1])
    return min(max(0.0, low), high)


def corrupt(
    x: Tensor, kind: str, level: float, value_range: tuple[float, float], seed: int
) -> Tensor:
    """`x` corrupted by noise `kind` at `level`, within the data's value range, seeded."""
    if kind not in KINDS:
        raise ConfigError(f"unknown denoising.kind {kind!r}; choose one of {', '.join(KINDS)}")
    low, high = float(value_range[0]), float(value_range[1])
    generator = torch.Generator(device=x.device).manual_seed(seed)
    if kind == "masking":  # the regularizer's draws, the fill within the range
        hit = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) < level
        return x.masked_fill(hit, mask_value((low, high)))
    noise = Denoising(kind=kind, sigma=level, p=min(level, 1.0), low=low, high=high)
    return noise.corrupt(x, generator=generator)


def quality(x: Tensor, clean: Tensor, value_range: tuple[float, float]) -> dict[str, float]:
    """PSNR (dB) and SSIM of `x` against `clean` (both (N, C, H, W)) for data in `value_range`.

    The peak is the width of the range. SSIM compares brightness relative to black, so both are
    shifted to start at 0 first (a no-op for data in [0, 1]); then a standardised input scores
    as the same picture in [0, 1] does.
    """
    low, high = float(value_range[0]), float(value_range[1])
    data_range = high - low
    x, clean = x.float() - low, clean.float() - low
    kernel = ssim_kernel(*clean.shape[-2:])
    ssim = structural_similarity_index_measure(
        x, clean, data_range=data_range, kernel_size=kernel, sigma=1.5 * kernel / 11
    )
    return {
        "psnr": float(peak_signal_noise_ratio(x, clean, data_range=data_range)),
        "ssim": float(ssim),
    }


def denoising_curve(
    reconstruct,
    x: Tensor,
    levels: list[float],
    kind: str,
    value_range: tuple[float, float],
    seed: int = 0,
) -> tuple[list[dict[str, float]], list[tuple[Tensor, Tensor]]]:
    """Metrics per noise level, and the (noisy, reconstructed) inputs of each level."""
    check_noise(kind, levels)
    rows, pictures = [], []
    for index, level in enumerate(levels):
        noisy = corrupt(x, kind, float(level), value_range, seed + index)
        denoised = reconstruct(noisy)
        noisy_q, denoised_q = quality(noisy, x, value_range), quality(denoised, x, value_range)
        rows.append(
            {
                "level": float(level),
                "psnr_noisy": noisy_q["psnr"],
                "psnr_denoised": denoised_q["psnr"],
                "ssim_noisy": noisy_q["ssim"],
                "ssim_denoised": denoised_q["ssim"],
                "gain_db": denoised_q["psnr"] - noisy_q["psnr"],
            }
        )
        pictures.append((noisy, denoised))
    return rows, pictures


def curve_figure(
    rows: list[dict[str, float]], kind: str, clean: dict[str, float] | None = None
) -> Figure:
    """PSNR and SSIM against the noise level, noisy vs reconstructed (and clean reconstructed)."""
    levels = [r["level"] for r in rows]
    figure = Figure(figsize=(9, 3.4), layout="constrained")
    for ax, metric, unit in zip(figure.subplots(1, 2), ("psnr", "ssim"), ("dB", ""), strict=True):
        ax.plot(levels, [r[f"{metric}_noisy"] for r in rows], "o-", label="noisy")
        ax.plot(levels, [r[f"{metric}_denoised"] for r in rows], "o-", label="reconstructed")
        if clean is not None:
            ax.axhline(clean[metric], color="k", linestyle="--", label="reconstructed clean input")
        ax.set_xlabel(f"noise level ({kind})")
        ax.set_ylabel(f"{metric.upper()} {unit}".strip())
        ax.legend(fontsize=8)
    return figure
