"""What the picture and statistics callbacks share: where to draw, and how to run the model."""

from collections.abc import Iterator
from contextlib import contextmanager

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger


def tensorboard_loggers(trainer: L.Trainer) -> list[TensorBoardLogger]:
    """The trainer's TensorBoard loggers on rank 0; none on the other ranks."""
    if trainer.global_rank != 0:
        return []
    return [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


@contextmanager
def evaluating(module: L.LightningModule) -> Iterator[None]:
    """Eval mode without gradients for the block, then the module's previous mode again."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
