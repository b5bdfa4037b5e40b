"""Start-up time: seconds from the process's launch to its first training step."""

import logging
import os
import time

import lightning as L

log = logging.getLogger(__name__)


def seconds_since_launch() -> float:
    """Wall seconds since this process started (Linux /proc; elsewhere since this import)."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as handle:
            start_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


class StartupTimer(L.Callback):
    """Logs (and records in `seconds`) the time from launch to the first training step."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if self.seconds is None:
            self.seconds = seconds_since_launch()
            log.info("first training step %.2f s after launch", self.seconds)
