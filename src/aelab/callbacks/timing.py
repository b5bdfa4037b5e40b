"""Start-up time: seconds from the process's launch to its first training step."""

import logging

import lightning as L

from aelab.launch_clock import seconds_since_launch

log = logging.getLogger(__name__)


class StartupTimer(L.Callback):
    """Logs (and records in `seconds`) the time from launch to the first training step."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if self.seconds is None:
            self.seconds = seconds_since_launch()
            log.info("first training step %.2f s after launch", self.seconds)
