"""aelab-eval: rebuild a trained autoencoder from its checkpoint and run the evaluation tasks.

Thin Hydra entry point: load the run (``aelab.runs.checkpoints``), select the tasks of the registry
``aelab.eval`` (``task=all``: every task the run supports), run each on the test split, and write
``eval.json`` (each task's results), PNG figures and TensorBoard entries into the eval run
directory. The tasks (reconstruction, anomaly, embedding, denoising, generation, interpolation,
export) are the modules of ``aelab.eval``; ``docs/adding-a-task.md`` shows how to add one.
``prefix=k`` evaluates the model restricted to its first k latents (``LoadedRun.restrict``): every
task then sees k-dimensional codes, and its PCA baselines have k components.
"""

import logging
import sys
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from aelab.config import CONFIG_DIR
from aelab.entry import app_started, run_app
from aelab.eval import TASKS, Outputs, headline_metrics, select_tasks
from aelab.plugins import require_plugins
from aelab.runs.atomic import write_json
from aelab.runs.checkpoints import load_run
from aelab.runs.job import run_task

log = logging.getLogger("aelab.eval")


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the selected tasks; returns the summary for result.json (eval.json has the details)."""
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    L.seed_everything(cfg.seed, verbose=False)
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    data_overrides = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else {}
    prefix = cfg.get("prefix")
    run = load_run(cfg.ckpt_path, data_overrides, cfg.device, cfg.batch_size, prefix)
    requested = OmegaConf.to_container(cfg.task) if OmegaConf.is_config(cfg.task) else cfg.task
    tasks = select_tasks(requested, run, cfg)
    log.info("checkpoint %s; %s; tasks: %s", run.checkpoint, code_words(run), ", ".join(tasks))

    sizes = {"latent_dim": run.latent_dim, "prefix": run.prefix, "model_latent_dim": run.m}
    report: dict[str, Any] = {
        "checkpoint": str(run.checkpoint),
        "model": run.config["model"].get("_target_"),
        "data": run.config["data"],
        "input_dim": run.datamodule.input_dim,
        **sizes,
        "tasks": {},
    }
    model_name = str(run.config["model"].get("_target_", "model")).rsplit(".", 1)[-1]
    eta = run.latent_dim / run.datamodule.input_dim
    out = Outputs(output_dir, f"{model_name}, {code_words(run)}, η = {eta:.3g}")
    try:
        for task in tasks:
            log.info("task %s", task)
            report["tasks"][task] = TASKS[task].run(run, cfg, out)
        metrics = headline_metrics(report["tasks"])
        for key, value in metrics.items():
            out.writer.add_scalar(f"eval/{key}", value)
    finally:
        out.close()
    write_json(output_dir / "eval.json", report)
    return {
        "checkpoint": str(run.checkpoint),
        **sizes,
        "code": code_words(run),
        "tasks": tasks,
        "metrics": metrics,
        "eval_json": str(output_dir / "eval.json"),
    }


def code_words(run) -> str:
    """The code the tasks saw, in words: "prefix k=5 of m=10 latents" or "m=10 latents"."""
    if run.prefix is None:
        return f"m={run.m} latents"
    return f"prefix k={run.prefix} of m={run.m} latents"


def print_summary(summary: dict[str, Any], output_dir: Path) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True)
    console.print(f"\n[bold green]done[/]  {', '.join(summary['tasks'])}")
    for key, value in summary["metrics"].items():
        console.print(f"  {key:<40} {value:.4f}")
    console.print(f"code            {summary['code']}")
    console.print(f"checkpoint      {summary['checkpoint']}")
    console.print(f"eval            {summary['eval_json']}")
    console.print(f"open it with    tensorboard --logdir {output_dir}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _main(cfg: DictConfig) -> float:
    app_started()
    return run_task(cfg, evaluate, print_summary)


def main() -> None:
    """aelab-eval: the Hydra app, after checking the plugins the command line needs."""
    require_plugins(sys.argv[1:])
    run_app(_main, "aelab-eval", "eval")


if __name__ == "__main__":
    main()
