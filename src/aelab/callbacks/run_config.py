"""Every checkpoint carries the run's resolved config, so the checkpoint alone rebuilds the run.

The config is plain data (dicts, lists, strings, numbers), so checkpoints still load with
``torch.load(weights_only=True)``. `aelab.runs.build.build_run` rebuilds model and data from it.
"""

from typing import Any

import lightning as L

CONFIG_KEY = "aelab_config"


class RunConfig(L.Callback):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: L.Trainer, module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CONFIG_KEY] = self.config
