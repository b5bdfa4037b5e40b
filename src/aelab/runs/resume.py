"""Resume a run into its own directory: ``ckpt_path=<checkpoint>``, ``=<run dir>`` or ``=last``.

The run directory is chosen before the job starts (it is Hydra's ``hydra.run.dir``), by the
``aelab_run_dir`` resolver: a fresh time-stamped folder, or the folder of the run being resumed,
so the resumed run keeps writing the same checkpoints, ``result.json`` and TensorBoard run.

- ``ckpt_path=<file.ckpt>``: that checkpoint; its run dir is the folder above ``checkpoints/``.
- ``ckpt_path=<run dir>``: that run's ``checkpoints/last.ckpt``.
- ``ckpt_path=last``: in a single run, the newest run under ``paths.log_dir`` that has a
  ``last.ckpt``; in a sweep (``hydra.sweep.dir=<old sweep>``), each job's own ``last.ckpt`` if it
  has one, else the job starts afresh.
"""

from pathlib import Path

from aelab.errors import ConfigError

LAST = "last"


def _newest_run_with_checkpoint(log_dir: Path) -> Path | None:
    candidates = [
        p.parent.parent for p in log_dir.glob("*/checkpoints/last.ckpt") if p.parent.parent.is_dir()
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def run_dir(ckpt_path: object, log_dir: str, stamp: str) -> str:
    """Resolver for ``hydra.run.dir``: where this (possibly resumed) run writes."""
    fresh = str(Path(log_dir) / stamp)
    if ckpt_path is None or str(ckpt_path).strip() == "":
        return fresh
    if str(ckpt_path) == LAST:
        newest = _newest_run_with_checkpoint(Path(log_dir))
        return str(newest) if newest else fresh
    path = Path(str(ckpt_path)).expanduser()
    if path.is_file() and path.parent.name == "checkpoints":
        return str(path.parent.parent)
    if path.is_dir():
        return str(path)
    return fresh  # the job reports the missing checkpoint with its own clear message


def checkpoint_to_resume(ckpt_path: object, output_dir: Path, multirun: bool) -> str | None:
    """The checkpoint file to resume from, checked to be a readable aelab checkpoint."""
    from aelab.runs.checkpoints import read_checkpoint

    if ckpt_path is None or str(ckpt_path).strip() == "":
        return None
    if str(ckpt_path) == LAST:
        path = output_dir / "checkpoints" / "last.ckpt"
        if not path.is_file():
            if multirun:
                return None  # a job of the old sweep that never saved: start it afresh
            raise ConfigError(
                f"ckpt_path=last found no run with checkpoints/last.ckpt under {output_dir.parent}; "
                "give ckpt_path=<run dir or .ckpt file>"
            )
    else:
        path = Path(str(ckpt_path)).expanduser()
        if path.is_dir():
            path = path / "checkpoints" / "last.ckpt"
        if not path.is_file():
            raise ConfigError(
                f"checkpoint {path} does not exist; give ckpt_path=<run dir> (resumes its "
                "checkpoints/last.ckpt), a .ckpt file, or ckpt_path=last"
            )
    read_checkpoint(path)  # clear message for truncated, corrupt or foreign files
    return str(path)
