"""Export: the codes of a split as numpy arrays, for work outside aelab (a notebook, a plot).

Writes beside eval.json, atomically, ``codes_<split>.npz`` holding

- ``codes`` (N, k): each input's first ``prefix`` latents, or its whole code (N, m) without a
  prefix (the posterior mean for a VAE), in the split's order;
- ``labels`` (N,) class ids and ``class_names`` (C,) their names;
- ``split`` (N,) for ``export.split=all``: train, val or test, the three in that order;
- ``reconstructions`` (N, *input shape) with ``export.reconstructions=true``: the decodings of
  those codes.

``export.format=npy`` writes one ``<array>.npy`` per array into ``codes_<split>/`` instead
(``np.load(path, mmap_mode="r")`` then reads one without loading it). Runs on request only:
``task=all`` leaves it out (its files grow with the split), ``task=[export]`` runs it.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from aelab.errors import ConfigError
from aelab.eval._outputs import Outputs
from aelab.runs.atomic import atomic_open
from aelab.runs.checkpoints import SPLITS, LoadedRun

NAME = "export"
ORDER = 70
NEEDS: tuple[str, ...] = ()
ON_REQUEST = True  # task=all leaves it out

CHOICES = {"split": (*SPLITS, "all"), "format": ("npz", "npy")}
PROGRESS_FROM = 20_000  # inputs from which a progress bar shows the export


def check_settings(settings) -> None:
    """Raise `ConfigError` for an unknown split or format, or a non-boolean reconstructions."""
    for key, choices in CHOICES.items():
        if settings[key] not in choices:
            raise ConfigError(
                f"unknown export.{key} {settings[key]!r}; choose {', '.join(choices)}, e.g. "
                f"export.{key}={choices[-1]}"
            )
    if not isinstance(settings.reconstructions, bool):
        raise ConfigError(
            f"export.reconstructions must be true or false, got {settings.reconstructions!r}"
        )


def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    check_settings(cfg[NAME])
    return None


def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    """Codes (and reconstructions) of the split, written as .npz or .npy files."""
    settings = cfg[NAME]
    check_settings(settings)
    data = run.data(settings.split)
    codes, decoded = encode_split(run, data["x"], settings.reconstructions, settings.split)
    arrays = {"codes": codes.numpy()}
    if "label" in data:
        arrays["labels"] = data["label"].numpy()
        arrays["class_names"] = np.array(run.datamodule.class_names)
    if "split" in data:
        arrays["split"] = np.array(SPLITS)[data["split"].numpy()]
    if decoded is not None:
        arrays["reconstructions"] = decoded.numpy()
    files = write_arrays(out.dir, f"codes_{settings.split}", arrays, settings.format)
    return {
        "split": settings.split,
        "format": settings.format,
        "num_samples": len(codes),
        "latent_dim": run.latent_dim,
        "prefix": run.prefix,
        "files": files,
        "shapes": {name: list(array.shape) for name, array in arrays.items()},
        "code_mean": codes.double().mean(dim=0).tolist(),
        "figures": [],
    }


def headline(result: dict[str, Any]) -> dict[str, float]:
    return {"export/n": float(result["num_samples"])}


def encode_split(
    run: LoadedRun, x: Tensor, reconstructions: bool, split: str
) -> tuple[Tensor, Tensor | None]:
    """The codes of `x` and, if asked, their decodings, batch by batch (memory-mapped splits
    are read once); a progress bar from `PROGRESS_FROM` inputs."""
    starts = range(0, len(x), run.batch_size)
    if len(x) >= PROGRESS_FROM:
        from rich.progress import track

        starts = track(starts, description=f"export {split} ({len(x)} inputs)", transient=True)
    codes, decoded = [], []
    for start in starts:
        z = run.encode(x[start : start + run.batch_size])
        codes.append(z)
        if reconstructions:
            decoded.append(run.decode(z))
    empty = torch.empty(0, run.latent_dim)
    return (torch.cat(codes) if codes else empty), (torch.cat(decoded) if decoded else None)


def write_arrays(
    folder: Path, stem: str, arrays: dict[str, np.ndarray], file_format: str
) -> list[str]:
    """`arrays` as ``<stem>.npz`` or as ``<stem>/<name>.npy`` each; the file names written."""
    if file_format == "npz":
        with atomic_open(folder / f"{stem}.npz", "wb") as handle:
            np.savez(handle, **arrays)
        return [f"{stem}.npz"]
    names = []
    for name, array in arrays.items():
        with atomic_open(folder / stem / f"{name}.npy", "wb") as handle:
            np.save(handle, array)
        names.append(f"{stem}/{name}.npy")
    return names
