"""aelab: a laboratory for autoencoders (PyTorch Lightning + Hydra).

The commands are aelab-train, aelab-eval, aelab-compare and aelab-experiments; from Python,
``aelab.load`` rebuilds a trained run for a notebook (docs/python-api.md). Importing this package
imports nothing else: torch comes with the first ``load``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aelab.runs.checkpoints import LoadedRun


def load(
    path: Any,
    device: str = "cpu",
    prefix: int | None = None,
    data: dict[str, Any] | None = None,
    batch_size: int = 1024,
) -> "LoadedRun":
    """The trained run at `path` (a run directory, its best checkpoint, or a .ckpt file).

    Its model in eval mode on `device` (cpu, cuda or auto) with the DataModule it was trained
    with, set up; `data` overrides keys of the data config (e.g. ``{"data_dir": ...}``), `prefix`
    restricts the model to its first k latents. ``run.encode(x, k)``, ``run.decode(z)``,
    ``run.reconstruct(x, k)`` take tensors or numpy arrays and return CPU tensors; see
    `aelab.runs.checkpoints.LoadedRun`.
    """
    from aelab.runs.checkpoints import load_run

    return load_run(path, data, device, batch_size, prefix)
