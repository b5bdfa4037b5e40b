"""Rebuild a trained run from what `aelab-train` saved: a checkpoint file or a run directory.

A checkpoint carries the run's resolved Hydra config (``aelab_config``) beside the weights, so it
alone rebuilds the model and its DataModule. ``load_run`` resolves a run directory to its best
checkpoint, reads it weights-only, applies data overrides (e.g. another ``data_dir``) and checks
that the data still have the shape the model was trained on. Every failure is a `ConfigError`
naming the path, the problem and the fix.
"""

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aelab.errors import ConfigError


@dataclass
class LoadedRun:
    """A trained model (eval mode) with the DataModule (set up) and config it was trained with."""

    model: Any  # an AutoencoderModule
    datamodule: Any  # an InMemoryDataModule
    config: dict[str, Any]  # the training run's resolved config, with data overrides applied
    checkpoint: Path
    device: torch.device
    batch_size: int = 1024

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    @torch.no_grad()
    def apply(self, fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """`fn` applied to `x` in batches on the model's device; the result on the CPU."""
        parts = [
            fn(x[i : i + self.batch_size].to(self.device)).cpu()
            for i in range(0, len(x), self.batch_size)
        ]
        return torch.cat(parts) if parts else torch.empty(0)

    def embed(self, x: Tensor) -> Tensor:
        return self.apply(self.model.embed, x)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.apply(self.model.reconstruct, x)


def resolve_checkpoint(path: str | Path | None) -> Path:
    """A checkpoint file as given, or the best checkpoint of a training run directory."""
    if path is None or str(path).strip() == "":
        raise ConfigError(
            "ckpt_path is required: aelab-eval ckpt_path=<checkpoint .ckpt or training run dir>"
        )
    path = Path(str(path)).expanduser()
    if not path.exists():
        raise ConfigError(
            f"ckpt_path={path} does not exist; give a checkpoint file (.ckpt) or the run "
            "directory aelab-train printed (it holds result.json and checkpoints/)"
        )
    if path.is_file():
        return path
    result = path / "result.json"
    if result.is_file():
        try:
            best = json.loads(result.read_text()).get("checkpoint")
        except (json.JSONDecodeError, AttributeError):
            best = None
        if best and Path(best).is_file():
            return Path(best)
        if best and (path / "checkpoints" / Path(best).name).is_file():  # a moved run dir
            return path / "checkpoints" / Path(best).name
    folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    candidates = sorted(p for p in folder.glob("*.ckpt") if p.name != "last.ckpt")
    if candidates:
        return candidates[-1]
    if (folder / "last.ckpt").is_file():
        return folder / "last.ckpt"
    raise ConfigError(
        f"no checkpoint in {path} (looked for result.json's checkpoint and {folder}/*.ckpt); "
        "give ckpt_path=<file.ckpt> or a run directory of aelab-train"
    )


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint weights-only; refuse corrupt files and checkpoints of other programs."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, not a torch file, pickled objects, ...
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConfigError(
            f"cannot read checkpoint {path}: truncated, corrupt or not a weights-only torch "
            f"checkpoint ({type(error).__name__}: {first_line}); use another checkpoint of the "
            "run (e.g. last.ckpt) or retrain"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(
            f"{path} is not a Lightning checkpoint (no state_dict); give a .ckpt file written "
            "by aelab-train"
        )
    if "aelab_config" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise ConfigError(
            f"{path} has no aelab_config: it was not written by aelab-train (or by an older "
            "version), so its model and data cannot be rebuilt; retrain with aelab-train"
        )
    return checkpoint


def data_config(saved: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The saved data config with the non-null overrides applied (keys checked)."""
    from hydra.utils import get_class

    merged = dict(saved)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "_target_" in overrides:
        raise ConfigError(
            "aelab-eval takes the data config from the checkpoint: override single keys "
            "(e.g. data.data_dir=<dir>), not a whole data=<option>"
        )
    if not overrides:
        return merged
    target = saved.get("_target_", "")
    try:
        accepted = set(inspect.signature(get_class(target).__init__).parameters) - {"self"}
    except Exception:  # noqa: BLE001 - fall back to the saved keys
        accepted = set()
    accepted |= set(saved) - {"_target_"}
    for key, value in overrides.items():
        if key not in accepted:
            raise ConfigError(
                f"data.{key} is not an option of this checkpoint's data ({target}); "
                f"its options are {', '.join(sorted(accepted))}"
            )
        merged[key] = value
    return merged


def load_run(
    ckpt_path: str | Path | None,
    data_overrides: dict[str, Any] | None = None,
    device: str = "cpu",
    batch_size: int = 1024,
) -> LoadedRun:
    """Rebuild model (weights loaded, eval mode) and DataModule (set up) of a training run."""
    path = resolve_checkpoint(ckpt_path)
    checkpoint = read_checkpoint(path)
    config = dict(checkpoint["aelab_config"])
    hparams = checkpoint["hyper_parameters"]
    config["data"] = data_config(config["data"], data_overrides)

    from aelab.runs.build import build_run

    # evaluation batches in order (no training order), and rebuilds the model it saved
    run = build_run(
        {**config, "seed": None},
        latent_dim=int(hparams["latent_dim"]),
        input_shape=[int(s) for s in hparams["input_shape"]],
    )
    datamodule, model = run.datamodule, run.model
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise ConfigError(
            f"the weights in {path} do not fit the model its config builds "
            f"({str(error).splitlines()[0]}); the model code changed since training: retrain"
        ) from None
    target = torch.device(resolve_device(device))
    model.to(target).eval()
    datamodule.setup()
    return LoadedRun(model, datamodule, config, path, target, batch_size)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} but no CUDA GPU is visible; use device=cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r}; choose cpu, cuda or auto")
    return device
