"""The training runs' TensorBoard logger: Lightning's, without its ``epoch`` chart.

Lightning adds the epoch counter to every logged step, so it became the first chart of the Time
Series tab; the step is the x axis of every chart and result.json keeps the epochs.
"""

from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger


class TensorBoardLogger(LightningTensorBoardLogger):
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step)
