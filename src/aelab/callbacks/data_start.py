"""Hand the model what it starts from in the training split, before fitting (and restoring).

A model never reaches into the DataModule: this callback gives it the training inputs and the
data's value range once, at the start of `fit`, through ``module.start_from_data``. Lightning
calls it before it restores a checkpoint, so a resumed run keeps its own trained weights.
"""

import lightning as L


class DataStart(L.Callback):
    def setup(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        start = getattr(module, "start_from_data", None)
        if stage != "fit" or start is None or not hasattr(datamodule, "split"):
            return
        x_train = datamodule.split("train")["x"]
        start(x_train, datamodule.value_range)
        ordering = getattr(module, "ordering", None)
        if ordering is not None:
            ordering.start_from_data(x_train)
