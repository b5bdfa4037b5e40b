"""aelab-train: fit one autoencoder on one dataset at one compression ratio, then test it.

Thin Hydra entry point: instantiate data, regularizer, model, callbacks, loggers and trainer from
the composed config, fit, test against closed-form PCA, write ``result.json`` and return the
objective (``val/mse``) for sweepers.
"""

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from aelab.config import CONFIG_DIR
from aelab.task import run_task

if TYPE_CHECKING:
    import lightning as L

log = logging.getLogger("aelab.train")


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit and test; returns the result summary (metrics, sizes, paths)."""
    import lightning as L
    import torch
    from hydra.utils import instantiate

    from aelab.compression import latent_size
    from aelab.errors import ConfigError
    from aelab.resume import checkpoint_to_resume
    from aelab.threads import job_threads

    quiet_lightning_logging()
    threads = job_threads(cfg.get("torch_threads"))  # parallel sweep jobs share the cores
    if threads:
        torch.set_num_threads(threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data)
    n = datamodule.input_dim
    m = latent_size(cfg.compression.ratio, n, cfg.compression.get("latent_dim"))
    regularizer = instantiate(cfg.regularizer)
    model = instantiate(
        cfg.model,
        input_shape=list(datamodule.input_shape),
        latent_dim=m,
        regularizer=regularizer,
        _convert_="all",
    )
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    if cfg.trainer.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "accelerator=gpu but no CUDA GPU is visible on this machine; "
            "use accelerator=cpu or accelerator=auto"
        )
    trainer = build_trainer(cfg)
    loggers = trainer.loggers

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    resume_from = checkpoint_to_resume(
        cfg.get("ckpt_path"), Path(hydra_cfg.runtime.output_dir), hydra_cfg.mode == RunMode.MULTIRUN
    )
    if resume_from:
        log.info("resuming from %s", resume_from)
    log.info("input dim n=%d, latent dim m=%d, eta=m/n=%.4f", n, m, m / n)
    started = time.perf_counter()
    trainer.fit(
        torch.compile(model) if cfg.get("compile") else model,
        datamodule=datamodule,
        ckpt_path=resume_from,
    )
    fit_seconds = time.perf_counter() - started
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}

    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if checkpoint is not None else ""
    trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
    metrics.update(
        {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    )

    summary = {
        "input_dim": n,
        "latent_dim": m,
        "compression_ratio": m / n,
        "metrics": metrics,
        "epochs": trainer.current_epoch,
        "torch_threads": torch.get_num_threads(),
        "resumed_from": resume_from,
        "fit_seconds": fit_seconds,
        "checkpoint": best or None,
        "last_checkpoint": getattr(checkpoint, "last_model_path", None) or None,
        "tensorboard_dir": next((lg.log_dir for lg in loggers if hasattr(lg, "log_dir")), None),
    }
    for logger in loggers:  # HParams tab: the real final metrics, once, at the end
        if hasattr(logger, "log_hyperparams"):
            hp_metrics = {"hp/" + k.replace("/", "_"): v for k, v in metrics.items()}
            logger.log_hyperparams(_hparams(cfg, n, m), metrics=hp_metrics)
            logger.finalize("success")
    return summary


def build_trainer(cfg: DictConfig, extra_callbacks: Sequence[Any] = ()) -> "L.Trainer":
    """The run's Trainer: the config's trainer, callbacks and loggers, plus `extra_callbacks`.

    On a machine without an NVIDIA driver it also turns off the NVML probe that Lightning's
    import switched on (`aelab.cuda_check`), which would otherwise cost every optimiser step.
    """
    from hydra.utils import instantiate

    from aelab.cuda_check import skip_nvml_without_driver

    skip_nvml_without_driver()
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg]
    callbacks += list(extra_callbacks)
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def quiet_lightning_logging() -> None:
    """Lightning's messages once (through Hydra's handlers), without its advertising tip."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
        lambda record: "litlogger" not in record.getMessage()
    )


def _hparams(cfg: DictConfig, n: int, m: int) -> dict[str, Any]:
    from hydra.core.hydra_config import HydraConfig

    choices = HydraConfig.get().runtime.choices
    params = {
        group: choices.get(group) for group in ("data", "model", "regularizer", "compression")
    }
    params.update(
        {"eta": m / n, "latent_dim": m, "input_dim": n, "seed": cfg.seed, "lr": cfg.model.get("lr")}
    )
    return {k: v for k, v in params.items() if v is not None}


def print_summary(summary: dict[str, Any], output_dir: Path) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True)
    metrics = summary["metrics"]
    console.print(
        f"\n[bold green]done[/]  m={summary['latent_dim']}  n={summary['input_dim']}  "
        f"eta={summary['compression_ratio']:.4f}  val/mse={metrics.get('val/mse', float('nan')):.5f}  "
        f"test/mse={metrics.get('test/mse', float('nan')):.5f}  "
        f"test/pca_mse={metrics.get('test/pca_mse', float('nan')):.5f}"
    )
    console.print(f"run directory   {output_dir}")
    console.print(f"result          {output_dir / 'result.json'}")
    if summary.get("checkpoint"):
        console.print(f"checkpoint      {summary['checkpoint']}")
    if summary.get("tensorboard_dir"):
        console.print(f"tensorboard     {summary['tensorboard_dir']}")
        console.print(f"open it with    tensorboard --logdir {output_dir}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float:
    return run_task(cfg, train, print_summary)


if __name__ == "__main__":
    main()
