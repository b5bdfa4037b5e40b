"""Embedding: a 2-D map of the latent space coloured by class, the TensorBoard projector, probes.

The map is the latent itself when m = 2 (m = 1: the code against its rank), otherwise the first
two principal components of the latent codes (their share of the latent variance is reported).
Maps beyond PCA are optional, each from a package aelab does not require (the extra
``aelab[analysis]``): t-SNE (``embedding.tsne=true``, scikit-learn) and UMAP
(``embedding.umap=true``, umap-learn). All maps show the same first ``embedding.max_points`` test
codes, seeded by ``seed``; each is a PNG beside eval.json and a figure in TensorBoard. The first
UMAP map of a process compiles umap-learn's numba code (seconds).
Linear probes (settings: the ``probe`` block) read the labels and the data's intrinsic
parameters off the codes: `aelab.eval._probes`.
"""

import importlib.util
import logging
import sys
import warnings
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig
from torch import Tensor

from aelab.errors import ConfigError
from aelab.eval import _probes
from aelab.eval._outputs import Outputs
from aelab.metrics.pca import fit_pca
from aelab.metrics.plots import to_rgb
from aelab.runs.checkpoints import LoadedRun

NAME = "embedding"
ORDER = 30
NEEDS = ("labels",)
SETTINGS = ("probe",)

log = logging.getLogger("aelab.eval")

# the maps beyond PCA: embedding.<key>=true -> (name in titles, module, package that installs it)
MAPS = {
    "tsne": ("t-SNE", "sklearn", "scikit-learn"),
    "umap": ("UMAP", "umap", "umap-learn"),
}
MIN_MAP_POINTS = 10  # fewer test codes: no t-SNE / UMAP map (their neighbourhoods need more)
UMAP_NEIGHBOURS = 15  # umap-learn's default n_neighbors
MAX_LEGEND = 30  # more classes in a map: colours only, no legend
THUMBNAIL_SIZE = 64  # longest side of a projector thumbnail (TensorBoard's sprite stays small)


def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    """None; bad probe settings, or a map whose package is missing, raise `ConfigError`."""
    _probes.check_settings(cfg.probe)
    extra_maps(cfg[NAME])
    return None


def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    """2-D latent map, TensorBoard projector, and linear probes (labels, intrinsic parameters)."""
    settings = cfg[NAME]
    dm, m = run.datamodule, run.latent_dim
    test = dm.split("test")
    z = run.embed(test["x"])
    labels = test["label"]
    shown = slice(0, settings.max_points)
    coords, axes, share = latent_map(z[shown])
    code = f"m={m}" if run.prefix is None else f"first {m} of m={run.m}"
    title = f"latent ({code}) of {len(coords)} test samples"
    if m > 2:
        title += f", map shows {share:.0%} of its variance"
    figures = [
        out.figure(
            "embedding_map", scatter_figure(coords, labels[shown], dm.class_names, axes, title)
        )
    ]
    maps: dict[str, dict[str, Any]] = {}
    for key in extra_maps(settings):
        word = MAPS[key][0]
        if len(coords) < MIN_MAP_POINTS:
            log.info("no %s map: %d test codes, it needs %d", word, len(coords), MIN_MAP_POINTS)
            maps[key] = {"skipped": f"{len(coords)} test codes, fewer than {MIN_MAP_POINTS}"}
            continue
        extra, details = MAP_FUNCTIONS[key](z[shown], int(cfg.seed))
        word_axes = [f"{word} 1", f"{word} 2"]
        figure = scatter_figure(extra, labels[shown], dm.class_names, word_axes, f"{word}, {title}")
        maps[key] = details | {
            "points": len(extra),
            "figure": out.figure(f"embedding_{key}", figure),
        }
        figures.append(maps[key]["figure"])
    k = settings.projector_points
    add_projector(
        out.writer, z[:k], labels[:k], dm.class_names, projector_thumbnails(test["x"][:k], dm)
    )

    result: dict[str, Any] = {"map": {"axes": axes, "variance_shown": share}}
    if maps:
        result["maps"] = maps
    result.update(_probes.evaluate(run, cfg.probe, test, z, out))
    result["figures"] = figures + result.pop("figures")
    return result


def headline(result: dict[str, Any]) -> dict[str, float]:
    metrics = {}
    for name, value in result.get("label_accuracy", {}).items():
        metrics[f"probe/label_accuracy/{name}"] = value
    for name, value in result.get("r2", {}).get("model", {}).items():
        metrics[f"probe/r2/{name}"] = value
    return metrics


# --- the map and the projector ------------------------------------------------------------------
def latent_map(z: Tensor) -> tuple[Tensor, list[str], float]:
    """(N, 2) coordinates, axis names, and the share of latent variance the map shows."""
    z = z.flatten(1).double()
    if z.shape[1] == 1:
        rank = torch.argsort(torch.argsort(z[:, 0])).double() / max(len(z) - 1, 1)
        return torch.stack([z[:, 0], rank], dim=1), ["z1", "rank of z1"], 1.0
    if z.shape[1] == 2:
        return z, ["z1", "z2"], 1.0
    pca = fit_pca(z, 2, centred=True)
    total = float(pca.eigenvalues.clamp_min(0).sum())
    shown = float(pca.eigenvalues[:2].clamp_min(0).sum()) / max(total, 1e-300)
    return pca.encode(z), ["latent PC1", "latent PC2"], shown


# --- the maps beyond PCA (aelab[analysis]) ------------------------------------------------------
def installed(module: str) -> bool:
    """Whether `module` can be imported (a module set to None in sys.modules cannot)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def extra_maps(settings) -> list[str]:
    """The maps beyond PCA that the embedding block asks for (``tsne``, ``umap``), in order.

    A setting that is not a boolean, or a map whose package is missing, raises `ConfigError`.
    """
    chosen = []
    for key, (_, module, package) in MAPS.items():
        value = settings.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(
                f"embedding.{key} must be true or false, got {value!r}; e.g. embedding.{key}=true"
            )
        if value and not installed(module):
            raise ConfigError(
                f"embedding.{key}=true needs {package}: pip install 'aelab[analysis]'"
            )
        if value:
            chosen.append(key)
    return chosen


def tsne_map(z: Tensor, seed: int = 0) -> tuple[Tensor, dict[str, Any]]:
    """t-SNE of the latent codes (scikit-learn), (N, 2), and its settings."""
    extra_maps({"tsne": True})
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(2.0, (len(z) - 1) / 3))
    coords = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        z.flatten(1).double().numpy()
    )
    return torch.from_numpy(coords), {"perplexity": perplexity}


def umap_map(z: Tensor, seed: int = 0) -> tuple[Tensor, dict[str, Any]]:
    """UMAP of the latent codes (umap-learn), (N, 2), and its settings.

    The neighbours are exact (`nearest_neighbours`), so umap-learn compiles no search of its own;
    a seeded UMAP runs on one thread.
    """
    extra_maps({"umap": True})
    from umap import UMAP

    x = z.flatten(1).double()
    k = max(2, min(UMAP_NEIGHBOURS, len(x) - 1))
    distances, indices = nearest_neighbours(x, k)
    knn = (indices.numpy().astype(np.int32), distances.numpy().astype(np.float32), None)
    with warnings.catch_warnings():
        # seeded, hence one thread; no search index, hence no `transform` of new codes
        warnings.simplefilter("ignore", UserWarning)
        reducer = UMAP(n_neighbors=k, random_state=seed, precomputed_knn=knn)
        coords = reducer.fit_transform(x.numpy())
    return torch.from_numpy(np.asarray(coords, dtype=np.float64)), {"n_neighbors": k}


def nearest_neighbours(x: Tensor, k: int, values: int = 2**24) -> tuple[Tensor, Tensor]:
    """Distances and indices (N, k) of each row's `k` nearest rows of `x`, itself first.

    Computed in blocks of about `values` distances, so memory stays bounded for many codes.
    """
    rows = max(1, values // max(len(x), 1))
    parts = [torch.cdist(x[i : i + rows], x).topk(k, largest=False) for i in range(0, len(x), rows)]
    return torch.cat([p.values for p in parts]), torch.cat([p.indices for p in parts])


MAP_FUNCTIONS = {"tsne": tsne_map, "umap": umap_map}


def scatter_figure(
    coords: Tensor, labels: Tensor, class_names: list[str], axes: list[str], title: str
) -> Figure:
    """Scatter plot of 2-D coordinates, one colour per class present."""
    figure = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = figure.subplots()
    present = torch.unique(labels).tolist()
    colours = class_colours(len(present))
    for colour, label in zip(colours, present, strict=True):
        mask = labels == label
        ax.scatter(
            coords[mask, 0].numpy(),
            coords[mask, 1].numpy(),
            s=6,
            alpha=0.7,
            color=colour,
            label=class_names[label] if label < len(class_names) else str(label),
        )
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    if len(present) <= MAX_LEGEND:
        ax.legend(markerscale=3, fontsize=8, loc="best", ncols=1 + len(present) // 11)
    return figure


def class_colours(count: int) -> list[tuple[float, ...]]:
    """`count` distinct colours: tab10, tab20 for up to 20 classes, else spread over turbo."""
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["turbo"](i / (count - 1)) for i in range(count)]


def projector_thumbnails(x: Tensor, datamodule) -> Tensor | None:
    """Projector thumbnails of image samples, as the data are pictured (no thumbnails for vectors).

    Images larger than `THUMBNAIL_SIZE` are shrunk (area average), keeping TensorBoard's sprite
    image within its size limit; oblong ones are padded with white to a square, as the sprite
    needs.
    """
    if min(x.shape[-2:]) < 2:  # (N, C, 1, d): vectors, not images
        return None
    value_range = None if datamodule.render == "heightmap" else datamodule.value_range
    images = to_rgb(x, datamodule.render, value_range)
    scale = THUMBNAIL_SIZE / max(images.shape[-2:])
    if scale < 1:
        size = [max(1, round(side * scale)) for side in images.shape[-2:]]
        images = torch.nn.functional.interpolate(images, size=size, mode="area")
    height, width = images.shape[-2:]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    padding = (left, side - width - left, top, side - height - top)
    return torch.nn.functional.pad(images, padding, value=1.0)


def add_projector(
    writer,
    z: Tensor,
    labels: Tensor,
    class_names: list[str],
    thumbnails: Tensor | None = None,
    tag: str = "latent",
) -> None:
    """The latent codes in TensorBoard's projector, labelled, with image thumbnails if given."""
    metadata = [class_names[i] if i < len(class_names) else str(i) for i in labels.tolist()]
    writer.add_embedding(
        z.flatten(1).float(),
        metadata=metadata,
        label_img=None if thumbnails is None else thumbnails.float(),
        tag=tag,
    )
