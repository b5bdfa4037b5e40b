"""Denoising quality: how much cleaner the reconstruction of a noisy input is than the noisy input.

For each noise level, the inputs are corrupted (the denoising regularizer's noise, seeded:
``gaussian`` level = sigma in data units, ``masking`` / ``salt_and_pepper`` level = fraction of
pixels) and reconstructed. PSNR and SSIM (torchmetrics) of the noisy and the reconstructed inputs
against the clean ones, with the peak set by the width of the data's value range.
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
    if not levels or any(not isinstance(v, int | float) or v < 0 for v in levels):
        raise ConfigError(
            f"denoising.levels must be a non-empty list of noise levels >= 0, got {levels!r}; "
            "e.g. denoising.levels=[0.1,0.3,0.5]"
        )


def corrupt(
    x: Tensor, kind: str, level: float, value_range: tuple[float, float], seed: int
) -> Tensor:
    if kind not in KINDS:
        raise ConfigError(f"unknown denoising.kind {kind!r}; choose one of {', '.join(KINDS)}")
    low, high = value_range
    noise = Denoising(kind=kind, sigma=level, p=min(level, 1.0), low=low, high=high)
    return noise.corrupt(x, generator=torch.Generator(device=x.device).manual_seed(seed))


def quality(x: Tensor, clean: Tensor, data_range: float) -> dict[str, float]:
    """PSNR (dB) and SSIM of `x` against `clean` (both (N, C, H, W))."""
    x, clean = x.float(), clean.float()
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
    data_range = float(value_range[1] - value_range[0])
    rows, pictures = [], []
    for index, level in enumerate(levels):
        noisy = corrupt(x, kind, float(level), value_range, seed + index)
        denoised = reconstruct(noisy)
        noisy_q, denoised_q = quality(noisy, x, data_range), quality(denoised, x, data_range)
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
