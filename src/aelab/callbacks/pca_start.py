"""The PCA start is a candidate for the best checkpoint, like every epoch.

A model with a linear path (`aelab.models.linear_path`) starts exactly at closed-form PCA. When no
epoch beats that start on the monitored validation error (at large m the non-linear part can only
fit noise), the start itself is the best model: this callback then writes it as
``checkpoints/start.ckpt`` and records it as ``chosen``, which `chosen_checkpoint` gives the
trainer's caller as the checkpoint to test. Lightning's ModelCheckpoint is only read, never
written. The start is scored on the checkpoint's monitored metric (its ``monitor`` and
``mode``), when that metric has a closed form for PCA: ``val/mse`` or the ordered criterion. Its validation error is
PCA's on the validation split, computed in closed form. Under the ordered runs' criterion
(`aelab.callbacks.prefix_metrics.CRITERION`) the start scores exactly 1: its first k latents are
PCA's first k components, for every k.
"""

import logging
from pathlib import Path

import lightning as L

from aelab.callbacks.prefix_metrics import CRITERION
from aelab.metrics.pca import fit_pca

log = logging.getLogger("aelab.train")

MONITOR = "val/mse"
MONITORS = (MONITOR, CRITERION)  # what the start can be scored on in closed form
START_CHECKPOINT = "start.ckpt"


class PCAStartCandidate(L.Callback):
    def __init__(self) -> None:
        self.chosen: str | None = None  # start.ckpt, when the start beat every epoch

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.chosen = None
        checkpoint = trainer.checkpoint_callback
        datamodule = getattr(trainer, "datamodule", None)
        if (
            getattr(module, "pca_path", None) is None
            or checkpoint is None
            or checkpoint.monitor not in MONITORS
            or checkpoint.mode != "min"
            or checkpoint.best_model_score is None
            or not checkpoint.dirpath
            or not hasattr(datamodule, "split")
        ):
            return
        x_train = datamodule.split("train")["x"]
        x_val = datamodule.split("val")["x"]
        pca = module.start_pca  # fitted by the module's setup, on the same split
        if pca is None:
            pca = fit_pca(x_train, module.latent_dim, centred=True)
        start_mse = float(pca.reconstruction_sse(x_val).mean()) / module.input_dim
        start_score = start_mse if checkpoint.monitor == MONITOR else 1.0
        best_score = float(checkpoint.best_model_score)
        if start_score >= best_score:
            return
        log.info(
            "the PCA start (%s %.6g) beats every epoch (best %.6g): testing the start",
            checkpoint.monitor,
            start_score,
            best_score,
        )
        module.restart_at_pca(pca)
        path = str(Path(checkpoint.dirpath) / START_CHECKPOINT)
        with _recorded_as_start(trainer, {MONITOR: start_mse, checkpoint.monitor: start_score}):
            trainer.save_checkpoint(path)
        self.chosen = path


def chosen_checkpoint(trainer: L.Trainer) -> str | None:
    """The checkpoint to test: the PCA start when it won, else the monitored best (or None)."""
    for callback in trainer.callbacks:
        if isinstance(callback, PCAStartCandidate) and callback.chosen:
            return callback.chosen
    checkpoint = trainer.checkpoint_callback
    return (checkpoint.best_model_path or None) if checkpoint is not None else None


class _recorded_as_start:
    """While the start is saved, the checkpoint's recorded metrics are the start's (epoch -1)."""

    def __init__(self, trainer: L.Trainer, scores: dict[str, float]) -> None:
        from aelab.callbacks.checkpoint_metrics import CheckpointMetrics

        self.recorders = [cb for cb in trainer.callbacks if isinstance(cb, CheckpointMetrics)]
        self.scores = scores

    def __enter__(self) -> None:
        self.saved = [recorder.state_dict() for recorder in self.recorders]
        for recorder in self.recorders:
            recorder.load_state_dict({"epoch": -1, "val": dict(self.scores)})

    def __exit__(self, *exc: object) -> None:
        for recorder, state in zip(self.recorders, self.saved, strict=True):
            recorder.load_state_dict(state)
