"""Embedding: a 2-D map of the latent space coloured by class, the TensorBoard projector, probes.

The map is the latent itself when m = 2 (m = 1: the code against its rank), otherwise the first
two principal components of the latent codes (their share of the latent variance is reported).
t-SNE is optional (``embedding.tsne=true``) and needs scikit-learn, which aelab does not require.
Linear probes (settings: the ``probe`` block) read the labels and the data's intrinsic
parameters off the codes: `aelab.eval._probes`.
"""

import importlib.util
from typing import Any

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


def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    _probes.check_settings(cfg.probe)
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
    title = f"latent (m={m}) of {len(coords)} test samples"
    if m > 2:
        title += f", map shows {share:.0%} of its variance"
    figures = [
        out.figure(
            "embedding_map", scatter_figure(coords, labels[shown], dm.class_names, axes, title)
        )
    ]
    if settings.tsne:
        tsne = tsne_map(z[shown], cfg.seed)
        tsne_axes = ["t-SNE 1", "t-SNE 2"]
        figure = scatter_figure(tsne, labels[shown], dm.class_names, tsne_axes, f"t-SNE, {title}")
        figures.append(out.figure("embedding_tsne", figure))
    k = settings.projector_points
    value_range = None if dm.render == "heightmap" else dm.value_range
    thumbnails = to_rgb(test["x"][:k], dm.render, value_range)
    add_projector(out.writer, z[:k], labels[:k], dm.class_names, thumbnails)

    result = {"map": {"axes": axes, "variance_shown": share}}
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


def tsne_map(z: Tensor, seed: int = 0) -> Tensor:
    """t-SNE of the latent codes (scikit-learn), (N, 2)."""
    if importlib.util.find_spec("sklearn") is None:
        raise ConfigError(
            "embedding.tsne=true needs scikit-learn, which is not installed; "
            "pip install scikit-learn, or set embedding.tsne=false"
        )
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(2.0, (len(z) - 1) / 3))
    coords = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        z.flatten(1).double().numpy()
    )
    return torch.from_numpy(coords)


def scatter_figure(
    coords: Tensor, labels: Tensor, class_names: list[str], axes: list[str], title: str
) -> Figure:
    """Scatter plot of 2-D coordinates, one colour per class present."""
    from matplotlib import colormaps

    figure = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = figure.subplots()
    colours = colormaps["tab10"]
    for i, label in enumerate(torch.unique(labels).tolist()):
        mask = labels == label
        ax.scatter(
            coords[mask, 0].numpy(),
            coords[mask, 1].numpy(),
            s=6,
            alpha=0.7,
            color=colours(i % 10),
            label=class_names[label] if label < len(class_names) else str(label),
        )
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    ax.legend(markerscale=3, fontsize=8, loc="best")
    return figure


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
