"""Checkpoints written atomically: a temporary file in the same folder, then a rename.

A run killed while saving leaves the previous checkpoint intact, never a truncated one.
"""

from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from aelab.runs.atomic import atomic_open


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_open(path, "wb") as handle:
            torch.save(checkpoint, handle)
