"""Seconds since this process was launched, without importing anything heavy.

Start-up figures (the `StartupTimer` callback, `scripts/bench_startup.py`) count from the moment
the process started, interpreter and imports included.
"""

import os
import time


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
