"""Denoising: how much cleaner the reconstruction of a noisy test input is than the noisy input.

The test inputs are corrupted at each of ``denoising.levels`` (noise ``denoising.kind``, seeded,
within the data's ``value_range``) and reconstructed; PSNR / SSIM of noisy and reconstructed
inputs against the clean ones, the peak being the width of that range
(`aelab.metrics.denoising`), a clean / noisy / reconstructed grid and the curves.
"""

from typing import Any

from omegaconf import DictConfig

from aelab.eval._outputs import Outputs
from aelab.metrics.denoising import check_noise, curve_figure, denoising_curve, quality
from aelab.runs.checkpoints import LoadedRun

NAME = "denoising"
ORDER = 40
NEEDS: tuple[str, ...] = ()


def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    check_noise(cfg[NAME].kind, list(cfg[NAME].levels))
    return None


def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    """PSNR / SSIM over the noise levels, a clean / noisy / reconstructed grid, the curves."""
    settings = cfg[NAME]
    dm = run.datamodule
    x = dm.split("test")["x"][: settings.max_samples]
    levels = list(settings.levels)
    low, high = (float(v) for v in dm.value_range)
    rows, pictures = denoising_curve(
        run.reconstruct, x, levels, settings.kind, (low, high), cfg.seed
    )
    clean = quality(run.reconstruct(x), x, (low, high))
    k = settings.grid_samples
    grid = [x[:k]] + [part[:k] for pair in pictures for part in pair]
    labels = ["clean"] + [f"{r} {v:g}" for v in levels for r in ("noisy", "reconstructed")]
    return {
        "kind": settings.kind,
        "value_range": [low, high],
        "num_samples": len(x),
        "levels": rows,
        "clean_reconstruction": clean,
        "grid_rows": labels,
        "figures": [
            out.grid("denoising", grid, dm, labels),
            out.figure("denoising_curve", curve_figure(rows, settings.kind, clean)),
        ],
    }


def headline(result: dict[str, Any]) -> dict[str, float]:
    return {f"denoising/gain_db@{row['level']:g}": row["gain_db"] for row in result["levels"]}
