"""The step budget, rounded up to whole epochs: training counts optimiser steps, checkpoints stay
at epoch ends.

``trainer.max_steps`` states the budget whatever the data size (3000 steps are 19 epochs of
20 000 terrain patches and 750 epochs of 800 rows). Lightning stops a run mid-epoch at max_steps
and then restarts loops as if mid-epoch on a resume, which loses the exact resume from an epoch's
``last.ckpt``. So once the training split is known (the callbacks' ``setup``, before the
schedules read the budget and before a checkpoint is restored), this callback turns the budget
into ``ceil(max_steps / steps per epoch)`` epochs (capped by ``trainer.max_epochs``) and leaves
no step limit: the run ends at the end of the epoch that reaches the budget, and the
learning-rate schedules span exactly the steps it takes.
"""

import logging
import math

import lightning as L

log = logging.getLogger("aelab.train")


def steps_per_epoch(trainer: L.Trainer, batches: int) -> int:
    """Optimiser steps an epoch of `batches` training batches takes under the trainer's limits."""
    limit = trainer.limit_train_batches
    if isinstance(limit, int):
        batches = min(batches, limit)
    elif limit is not None and limit < 1.0:
        batches = max(1, int(batches * limit))
    return max(1, math.ceil(batches / trainer.accumulate_grad_batches))


class StepBudget(L.Callback):
    def setup(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        loop = trainer.fit_loop
        budget = loop.epoch_loop.max_steps
        datamodule = getattr(trainer, "datamodule", None)
        if stage != "fit" or budget is None or budget < 0 or datamodule is None:
            return
        try:
            batches = len(datamodule.train_dataloader())
        except TypeError:  # a loader of unknown length: Lightning's own step limit stays
            return
        per_epoch = steps_per_epoch(trainer, batches)
        epochs = math.ceil(budget / per_epoch)
        capped = loop.max_epochs is not None and 0 <= loop.max_epochs < epochs
        if capped:
            epochs = loop.max_epochs
        loop.max_epochs = epochs
        loop.epoch_loop.max_steps = -1
        reason = f"trainer.max_epochs={epochs}" if capped else f"{budget} steps, rounded up"
        log.info(
            "budget: %d epochs of %d steps = %d steps (%s)",
            epochs,
            per_epoch,
            epochs * per_epoch,
            reason,
        )
