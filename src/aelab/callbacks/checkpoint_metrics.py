"""Every checkpoint carries the validation metrics of its epoch.

`result.json` then says what the best checkpoint scored at its own epoch, read from the file
itself: true after a resume and under spawned processes, with no second validation pass.
"""

from pathlib import Path
from typing import Any

import lightning as L
import torch


class CheckpointMetrics(L.Callback):
    """Keeps the latest epoch's ``val/*`` metrics as callback state, saved in each checkpoint.

    Lightning runs checkpoint callbacks last, so a checkpoint written at the end of a validation
    holds that validation's metrics.
    """

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.val: dict[str, float] = {}

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.epoch = trainer.current_epoch
        self.val = {
            k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")
        }

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "val": dict(self.val)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epoch = state_dict.get("epoch")
        self.val = dict(state_dict.get("val") or {})


def read_checkpoint_metrics(path: str | Path) -> tuple[int | None, dict[str, float]]:
    """The epoch a checkpoint was written at and its validation metrics ({} if not recorded)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("callbacks", {}).get(CheckpointMetrics.__qualname__, {})
    epoch = state.get("epoch")  # -1: the PCA start (aelab.callbacks.pca_start)
    return (checkpoint.get("epoch") if epoch is None else epoch), dict(state.get("val") or {})
