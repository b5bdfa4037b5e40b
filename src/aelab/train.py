"""aelab-train: fit one autoencoder on one dataset at one compression ratio, then test it.

Thin Hydra entry point: build the run from the composed config (`aelab.runs.build`), add the
callbacks, loggers and trainer, fit, test the best checkpoint against closed-form PCA, write
``result.json`` and return the best checkpoint's objective (``val/mse``) for sweepers.
"""

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from aelab.config import CONFIG_DIR
from aelab.entry import app_started, run_app
from aelab.plugins import require_plugins
from aelab.runs.hparams import run_hparams, write_session
from aelab.runs.job import run_task
from aelab.runs.naming import current_varied, run_name

if TYPE_CHECKING:
    import lightning as L

log = logging.getLogger("aelab.train")


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit and test; returns the result summary (metrics, sizes, paths)."""
    import lightning as L
    import torch

    from aelab.callbacks.common import tensorboard_loggers
    from aelab.errors import ConfigError
    from aelab.runs.build import build_run, run_callbacks
    from aelab.runs.resume import checkpoint_to_resume
    from aelab.schema import validate_train_config
    from aelab.threads import job_threads

    validate_train_config(cfg)  # one line for a bad key, value or size, before anything is built
    if cfg.trainer.get("deterministic") is True and cfg.trainer.accelerator == "cpu":
        from aelab.determinism import pin_cpu_kernels

        pin_cpu_kernels()  # before the first computation: the libraries read it once
    quiet_lightning_logging()
    quiet_library_warnings()
    threads = job_threads(cfg.get("torch_threads"))  # parallel sweep jobs share the cores
    if threads:
        torch.set_num_threads(threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    run = build_run(cfg)
    datamodule, model, n, m = run.datamodule, run.model, run.input_dim, run.latent_dim
    if cfg.trainer.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "accelerator=gpu but no CUDA GPU is visible on this machine; "
            "use accelerator=cpu or accelerator=auto"
        )
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    choices, varied = dict(hydra_cfg.runtime.choices), current_varied()
    callbacks = run_callbacks(OmegaConf.to_container(cfg, resolve=True))
    trainer = build_trainer(cfg, callbacks, run_name(choices, m / n, m, varied))
    loggers = trainer.loggers
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
    records = score_checkpoints(trainer, model, datamodule)

    summary = {
        "input_dim": n,
        "latent_dim": m,
        "compression_ratio": m / n,
        "prefix_sizes": list(model.ordering.sizes),
        **records,
        "epochs": trainer.current_epoch,
        "torch_threads": torch.get_num_threads(),
        "resumed_from": resume_from,
        "fit_seconds": fit_seconds,
        "tensorboard_dir": next((lg.log_dir for lg in loggers if hasattr(lg, "log_dir")), None),
    }
    for callback in trainer.callbacks:  # e.g. a linear AE's axes against PCA's
        summary.update(getattr(callback, "records", dict)())
    summary["hparams"] = run_hparams(cfg, choices, n, m, varied)
    for logger in tensorboard_loggers(trainer):  # HParams: one session, its metrics the scalars
        write_session(logger.experiment, summary["hparams"])
    return summary


def score_checkpoints(
    trainer: "L.Trainer", model: "L.LightningModule", datamodule: Any
) -> dict[str, Any]:
    """After `trainer.fit`: test the best checkpoint and say which checkpoint each metric is of.

    Returns result.json's records:

    - ``best``: the tested checkpoint (best on the monitored metric): its epoch, path, and the
      validation metrics of that epoch with the test metrics; ``null`` when no checkpoint was
      saved (then the final weights are tested, ``tested: last``);
    - ``last``: the final epoch: its epoch, validation and training metrics, and the path of
      ``last.ckpt`` when that file holds this epoch (``null`` otherwise);
    - ``metrics``: one flat dict for readers and sweepers: ``val/*`` and ``test/*`` of the tested
      checkpoint, the training metrics (``train/*``, ``latent/*``, ...) of the last epoch;
    - ``checkpoint`` and ``last_checkpoint``: the two paths.
    """
    from aelab.callbacks.checkpoint_metrics import read_checkpoint_metrics
    from aelab.callbacks.pca_start import START_CHECKPOINT, chosen_checkpoint

    fitted = {k: float(v) for k, v in trainer.callback_metrics.items()}
    # the paths before testing: restoring the best checkpoint restores the callback's old state
    checkpoint = trainer.checkpoint_callback
    best = chosen_checkpoint(trainer)
    last = _last_checkpoint(checkpoint)
    start_val: dict[str, float] = {}
    if best and Path(best).name == START_CHECKPOINT:  # the PCA start won: validate it in full
        trainer.validate(model, datamodule=datamodule, ckpt_path=best, verbose=False)
        start_val = {
            k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")
        }
    trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False)
    tested = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}

    val = {k: v for k, v in fitted.items() if k.startswith("val/")}
    training = {k: v for k, v in fitted.items() if not k.startswith(("val/", "test/"))}
    # Lightning 2.6 rewrites last.ckpt only when it saves a best checkpoint: it may be older
    saved_epoch = read_checkpoint_metrics(last)[0] if last else None
    last_epoch = trainer.current_epoch - 1 if trainer.current_epoch > 0 else saved_epoch
    records: dict[str, Any] = {
        "checkpoint": best,
        "last_checkpoint": last,
        "tested": "last",
        "best": None,
        "last": {
            "epoch": last_epoch,
            "checkpoint": last if saved_epoch == last_epoch else None,
            "metrics": {**val, **training},
        },
    }
    if best is None:
        records["metrics"] = {**training, **val, **tested}
        return records
    best_epoch, best_val = read_checkpoint_metrics(best)
    best_val = {**best_val, **start_val}
    if not best_val and checkpoint.monitor and checkpoint.best_model_score is not None:
        best_val = {checkpoint.monitor: float(checkpoint.best_model_score)}  # an older checkpoint
    records["tested"] = "best"
    records["best"] = {"epoch": best_epoch, "checkpoint": best, "metrics": {**best_val, **tested}}
    records["metrics"] = {**training, **best_val, **tested}
    return records


def _last_checkpoint(checkpoint: Any) -> str | None:
    """The path of ``last.ckpt``; spawned processes pass back only the best path, so look."""
    if checkpoint is None or not getattr(checkpoint, "save_last", False):
        return None
    if checkpoint.last_model_path:
        return checkpoint.last_model_path
    if not checkpoint.dirpath:
        return None
    path = Path(checkpoint.dirpath) / (checkpoint.CHECKPOINT_NAME_LAST + checkpoint.FILE_EXTENSION)
    return str(path) if path.is_file() else None


def build_trainer(
    cfg: DictConfig, extra_callbacks: Sequence[Any] = (), name: str = "run"
) -> "L.Trainer":
    """The run's Trainer: the config's trainer, callbacks and loggers, plus `extra_callbacks`.

    A logger whose ``version`` is null takes `name`: the run's folder under its save_dir.

    On a machine without an NVIDIA driver it also turns off the NVML probe that Lightning's
    import switched on (`aelab.cuda_check`), which would otherwise cost every optimiser step.
    """
    from hydra.utils import instantiate

    from aelab.cuda_check import skip_nvml_without_driver
    from aelab.schema import trainer_error

    skip_nvml_without_driver()
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [
        instantiate(lg, **({"version": name} if "version" in lg and lg.version is None else {}))
        for lg in (cfg.get("logger") or {}).values()
        if lg
    ]
    callbacks += list(extra_callbacks)
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    except Exception as error:  # noqa: BLE001 - what Lightning rejects becomes one line
        message = trainer_error(error, cfg.trainer)
        if message is None:
            raise
        raise message from None


def quiet_lightning_logging() -> None:
    """Lightning's messages once (through Hydra's handlers), without its advertising tip."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
        lambda record: "litlogger" not in record.getMessage()
    )


def quiet_library_warnings() -> None:
    """Hide the library warnings aelab cannot act on, each by its message and module.

    Lightning 2.6 still builds torch's deprecated ``LeafSpec`` when it flattens the loaders.
    """
    import warnings

    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )


def print_summary(summary: dict[str, Any], output_dir: Path) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True)
    metrics = summary["metrics"]
    best = summary.get("best")
    tested = f"best epoch {best['epoch']}" if best else "final weights"
    console.print(
        f"\n[bold green]done[/]  m={summary['latent_dim']}  n={summary['input_dim']}  "
        f"eta={summary['compression_ratio']:.4f}  {tested}: "
        f"val/mse={metrics.get('val/mse', float('nan')):.5f}  "
        f"test/mse={metrics.get('test/mse', float('nan')):.5f}  "
        f"test/pca_mse={metrics.get('test/pca_mse', float('nan')):.5f}"
    )
    for k in summary.get("prefix_sizes") or []:  # an ordered run: the curve from this one run
        console.print(
            f"  first {k:>4} latents  test/mse@{k}={metrics.get(f'test/mse@{k}', float('nan')):.5f}"
            f"  PCA({k})={metrics.get(f'test/pca_mse@{k}', float('nan')):.5f}"
            f"  ratio={metrics.get(f'test/mse_over_pca@{k}', float('nan')):.3f}"
        )
    console.print(f"run directory   {output_dir}")
    console.print(f"result          {output_dir / 'result.json'}")
    if summary.get("checkpoint"):
        console.print(f"checkpoint      {summary['checkpoint']}")
    if summary.get("tensorboard_dir"):
        console.print(f"tensorboard     {summary['tensorboard_dir']}")
        console.print(f"open it with    tensorboard --logdir {output_dir}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _main(cfg: DictConfig) -> float:
    app_started()
    return run_task(cfg, train, print_summary)


def main() -> None:
    """aelab-train: the Hydra app, after checking the plugins the command line needs."""
    require_plugins(sys.argv[1:])
    run_app(_main, "aelab-train", "train")


if __name__ == "__main__":
    main()
