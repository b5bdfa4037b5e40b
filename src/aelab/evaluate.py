"""aelab-eval: rebuild a trained autoencoder from its checkpoint and run the applications.

Thin Hydra entry point: load the run (``aelab.checkpoints``), run each selected task on the test
split, and write ``eval.json``, PNG figures and TensorBoard entries into the eval run directory.

- ``reconstruction``: test error of the model and of closed-form PCA at the same m, per class;
- ``anomaly``: ``aelab.analysis.anomaly`` (protocol from the ``anomaly`` config group);
- ``embedding``: ``aelab.analysis.embedding`` (2-D map, projector) and ``.probes``;
- ``denoising``: ``aelab.analysis.denoise_eval``;
- ``generation``: ``aelab.analysis.generation`` (models with ``sample``, i.e. VAEs).
"""

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import matplotlib.image
import torch
from hydra.core.hydra_config import HydraConfig
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard import SummaryWriter

from aelab.analysis import anomaly, denoise_eval, embedding, generation
from aelab.checkpoints import LoadedRun, load_run
from aelab.config import CONFIG_DIR
from aelab.errors import ConfigError
from aelab.metrics.pca import fit_pca
from aelab.metrics.plots import image_grid
from aelab.results import write_json
from aelab.task import run_task

log = logging.getLogger("aelab.eval")

TASKS = ("reconstruction", "anomaly", "embedding", "denoising", "generation")


class Outputs:
    """Writes each figure twice: a PNG in the eval run directory and an entry in TensorBoard."""

    def __init__(self, output_dir: Path) -> None:
        self.dir = output_dir
        self.writer = SummaryWriter(str(output_dir / "tensorboard"))

    def figure(self, name: str, figure: Figure) -> str:
        figure.savefig(self.dir / f"{name}.png", dpi=110)
        self.writer.add_figure(name, figure, close=False)
        return f"{name}.png"

    def grid(self, name: str, rows: list[torch.Tensor], datamodule) -> str:
        """Rows of samples pictured like the data (grey images or height maps)."""
        value_range = None if datamodule.render == "heightmap" else datamodule.value_range
        grid = image_grid(rows, datamodule.render, value_range)
        matplotlib.image.imsave(self.dir / f"{name}.png", grid.permute(1, 2, 0).numpy())
        self.writer.add_image(name, grid)
        return f"{name}.png"

    def close(self) -> None:
        self.writer.close()


# --- reconstruction (the other tasks live in aelab.analysis) ------------------------------------
def reconstruction_task(run: LoadedRun, settings: DictConfig, out: Outputs) -> dict[str, Any]:
    """Test error of the model and of closed-form PCA at the same m, overall and per class."""
    dm = run.datamodule
    test = dm.split("test")
    x, labels = test["x"], test["label"]
    x_hat = run.reconstruct(x)
    pca = fit_pca(dm.split("train")["x"], run.latent_dim)
    sse = ((x_hat - x) ** 2).flatten(1).sum(dim=1).double()
    pca_sse = pca.reconstruction_sse(x)
    n = dm.input_dim
    classes = torch.unique(labels).tolist()
    per_class = {
        dm.class_names[c]: {
            "count": int((labels == c).sum()),
            "mse": float(sse[labels == c].mean() / n),
            "pca_mse": float(pca_sse[labels == c].mean() / n),
        }
        for c in classes
    }
    result: dict[str, Any] = {
        "mse": float(sse.mean() / n),
        "sse": float(sse.mean()),
        "pca_mse": float(pca_sse.mean() / n),
        "mse_over_pca": float(sse.mean() / pca_sse.mean().clamp_min(1e-300)),
    }
    if hasattr(dm, "altitude_std"):
        result["rmse_metres"] = float((sse.mean() / n).sqrt() * dm.altitude_std)
    result["per_class"] = per_class
    # one example of each class first, so the grid shows the variety of the data
    firsts = [int((labels == c).nonzero()[0]) for c in classes]
    shown = (firsts + [i for i in range(len(x)) if i not in firsts])[: settings.grid_samples]
    pca_rows = pca.decode(pca.encode(x[shown])).float().view(-1, *x.shape[1:])
    result["figures"] = [
        out.grid("reconstruction", [x[shown], x_hat[shown], pca_rows], dm),
        out.figure("reconstruction_per_class", per_class_figure(per_class)),
    ]
    return result


def per_class_figure(per_class: dict[str, dict[str, float]]) -> Figure:
    names = list(per_class)
    figure = Figure(figsize=(max(5, 0.6 * len(names)), 3.4), layout="constrained")
    ax = figure.subplots()
    positions = range(len(names))
    ax.bar([p - 0.2 for p in positions], [per_class[c]["mse"] for c in names], 0.4, label="model")
    ax.bar([p + 0.2 for p in positions], [per_class[c]["pca_mse"] for c in names], 0.4, label="PCA")
    ax.set_xticks(list(positions), names)
    ax.set_ylabel("test MSE per input")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return figure


def run_one(task: str, run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    if task == "reconstruction":
        return reconstruction_task(run, cfg.reconstruction, out)
    if task == "anomaly":
        return anomaly.evaluate_run(run, cfg.anomaly, out, cfg.seed)
    if task == "embedding":
        return embedding.evaluate_run(run, cfg.embedding, cfg.probe, out, cfg.seed)
    if task == "denoising":
        return denoise_eval.evaluate_run(run, cfg.denoising, out, cfg.seed)
    return generation.evaluate_run(run, cfg.generation, out, cfg.seed)


# --- the app ------------------------------------------------------------------------------------
def select_tasks(requested: Any, run: LoadedRun, cfg: DictConfig) -> list[str]:
    """The tasks to run: ``all`` (those the model and protocol support) or the listed ones.

    Listed tasks the run cannot do are refused here, before any work.
    """
    if requested in (None, "all", ["all"]):
        tasks = ["reconstruction", "embedding", "denoising"]
        if anomaly.has_anomalies(run, cfg.anomaly):
            tasks.insert(1, "anomaly")
        if callable(getattr(run.model, "sample", None)):
            tasks.append("generation")
        return tasks
    tasks = [requested] if isinstance(requested, str) else list(requested)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ConfigError(
            f"unknown task {unknown[0] if unknown else '(none)'!r}; task= takes all or a list of "
            f"{', '.join(TASKS)}, e.g. task=[anomaly,embedding]"
        )
    if "generation" in tasks:
        generation.check_can_generate(run.model)
    if "anomaly" in tasks:
        anomaly.check_protocol(run, cfg.anomaly)
    return list(dict.fromkeys(tasks))


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the selected tasks; returns the summary for result.json (eval.json has the details)."""
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    L.seed_everything(cfg.seed, verbose=False)
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    data_overrides = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else {}
    run = load_run(cfg.ckpt_path, data_overrides, cfg.device, cfg.batch_size)
    requested = OmegaConf.to_container(cfg.task) if OmegaConf.is_config(cfg.task) else cfg.task
    tasks = select_tasks(requested, run, cfg)
    log.info("checkpoint %s; tasks: %s", run.checkpoint, ", ".join(tasks))

    report: dict[str, Any] = {
        "checkpoint": str(run.checkpoint),
        "model": run.config["model"].get("_target_"),
        "data": run.config["data"],
        "input_dim": run.datamodule.input_dim,
        "latent_dim": run.latent_dim,
        "tasks": {},
    }
    out = Outputs(output_dir)
    try:
        for task in tasks:
            log.info("task %s", task)
            report["tasks"][task] = run_one(task, run, cfg, out)
        metrics = headline_metrics(report["tasks"])
        for key, value in metrics.items():
            out.writer.add_scalar(f"eval/{key}", value)
    finally:
        out.close()
    write_json(output_dir / "eval.json", report)
    return {
        "checkpoint": str(run.checkpoint),
        "tasks": tasks,
        "metrics": metrics,
        "eval_json": str(output_dir / "eval.json"),
    }


def headline_metrics(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """A flat dict of the numbers worth a glance (and a sweep objective)."""
    metrics: dict[str, float] = {}
    if "reconstruction" in results:
        r = results["reconstruction"]
        metrics.update({f"reconstruction/{k}": r[k] for k in ("mse", "pca_mse", "mse_over_pca")})
    if "anomaly" in results:
        for key in ("auroc", "average_precision", "precision_at_n", "f1"):
            metrics[f"anomaly/{key}"] = results["anomaly"]["model"][key]
            metrics[f"anomaly/pca_{key}"] = results["anomaly"]["pca"][key]
    if "embedding" in results:
        e = results["embedding"]
        for name, value in e.get("label_accuracy", {}).items():
            metrics[f"probe/label_accuracy/{name}"] = value
        for name, value in e.get("r2", {}).get("model", {}).items():
            metrics[f"probe/r2/{name}"] = value
    if "denoising" in results:
        for row in results["denoising"]["levels"]:
            metrics[f"denoising/gain_db@{row['level']:g}"] = row["gain_db"]
    return metrics


def print_summary(summary: dict[str, Any], output_dir: Path) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True)
    console.print(f"\n[bold green]done[/]  {', '.join(summary['tasks'])}")
    for key, value in summary["metrics"].items():
        console.print(f"  {key:<40} {value:.4f}")
    console.print(f"checkpoint      {summary['checkpoint']}")
    console.print(f"eval            {summary['eval_json']}")
    console.print(f"open it with    tensorboard --logdir {output_dir}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float:
    return run_task(cfg, evaluate, print_summary)


if __name__ == "__main__":
    main()
