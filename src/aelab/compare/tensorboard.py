"""The comparison in TensorBoard: a `comparison` run beside the sweep's own runs."""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def write_tensorboard(sweep_dir: Path, fig: "Figure", table: str) -> Path:
    """The figure and table as a `comparison` run beside the sweep's own runs."""
    from torch.utils.tensorboard import SummaryWriter

    log_dir = sweep_dir / "comparison"
    for old in log_dir.glob("events.out.tfevents.*"):  # one comparison at a time
        old.unlink()
    writer = SummaryWriter(log_dir=str(log_dir))
    writer.add_figure("comparison/compression_curve", fig, global_step=0, close=False)
    writer.add_text("comparison/table", table, global_step=0)
    writer.close()
    return log_dir
