"""The launch clock behind the start-up figures, and the callback that logs it."""

import subprocess
import sys
import time

from aelab.callbacks.timing import StartupTimer
from aelab.launch_clock import seconds_since_launch

SLEEP = 0.3


def test_seconds_since_launch_counts_from_process_start():
    """A child that sleeps 0.3 s after its start reports at least that, and no more than the
    parent saw it live: the clock starts at the process's launch, not at an import."""
    code = (
        f"import time; time.sleep({SLEEP})\n"
        "from aelab.launch_clock import seconds_since_launch; print(seconds_since_launch())"
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lived = time.monotonic() - started
    reported = float(out.stdout)
    assert SLEEP <= reported <= lived + 0.02  # /proc counts in 10 ms ticks
    first = seconds_since_launch()
    time.sleep(0.05)
    assert seconds_since_launch() - first >= 0.04


def test_startup_timer_records_the_first_step_only():
    timer = StartupTimer()
    timer.on_train_batch_start(None, None, None, 0)
    first = timer.seconds
    time.sleep(0.05)
    timer.on_train_batch_start(None, None, None, 1)
    assert first is not None and first > 0
    assert timer.seconds == first
