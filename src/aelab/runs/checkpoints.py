"""Rebuild a trained run from what `aelab-train` saved: a checkpoint file or a run directory.

A checkpoint carries the run's resolved Hydra config (``aelab_config``) beside the weights, so it
alone rebuilds the model and its DataModule. ``load_run`` resolves a run directory to its best
checkpoint, reads it weights-only, applies data overrides (e.g. another ``data_dir``) and checks
that the data still have the shape the model was trained on. Every failure is a `ConfigError`
naming the path, the problem and the fix.

The `LoadedRun` it returns is what aelab-eval's tasks work on and what ``aelab.load`` gives a
notebook: the model applied to inputs of any size in batches on its device. With a prefix k
(``load_run(..., prefix=k)``, ``LoadedRun.restrict(k)``) its model is a `PrefixView`: the same
API restricted to the first k latents (the rest at zero), so every task sees k-dimensional codes.
"""

import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aelab.errors import ConfigError
from aelab.runs.prefix_view import PrefixView, prefix_view
from aelab.schema.types import is_integer

log = logging.getLogger("aelab.runs")

SPLITS = ("train", "val", "test")  # LoadedRun.data("all") concatenates them in this order


@dataclass
class LoadedRun:
    """A trained model (eval mode) with the DataModule (set up) and config it was trained with.

    Its methods take inputs as tensors or numpy arrays shaped like the data (N, C, H, W) or flat
    (N, n), run the model in batches of ``batch_size`` on ``device`` and return CPU tensors.
    """

    model: Any  # an AutoencoderModule, or a PrefixView of one (`restrict`)
    datamodule: Any  # an InMemoryDataModule
    config: dict[str, Any]  # the training run's resolved config, with data overrides applied
    checkpoint: Path
    device: torch.device
    batch_size: int = 1024

    # --- sizes --------------------------------------------------------------------------------
    @property
    def trained(self) -> Any:
        """The trained model itself (``model`` is a `PrefixView` of it after `restrict`)."""
        return self.model.model if isinstance(self.model, PrefixView) else self.model

    @property
    def latent_dim(self) -> int:
        """The length of the codes the methods give: the prefix k, else the model's m."""
        return int(self.model.latent_dim)

    @property
    def m(self) -> int:
        """The model's latent dimension."""
        return int(self.trained.latent_dim)

    @property
    def n(self) -> int:
        """The input dimension."""
        return int(self.trained.input_dim)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.trained.input_shape)

    @property
    def prefix(self) -> int | None:
        """The prefix k the model is restricted to (`restrict`), None for the whole code."""
        return self.model.k if isinstance(self.model, PrefixView) else None

    @property
    def prefix_sizes(self) -> list[int]:
        """The prefix sizes k its training reported (``test/mse@k``); [] when none were."""
        ordering = getattr(self.trained, "ordering", None)
        return list(ordering.sizes) if ordering is not None else []

    def restrict(self, k: Any) -> "LoadedRun":
        """This run with its model restricted to its first `k` latents (`PrefixView`).

        `k` must be an integer from 1 to m (else a `ConfigError` naming m and the run). On a
        model trained without an ordering the first k latents are not trained to be a code of
        their own: one warning says so.
        """
        k = check_prefix(k, self.m, self.checkpoint)
        ordering = getattr(self.trained, "ordering", None)
        if k < self.m and not getattr(ordering, "trains_prefixes", False):
            log.warning(
                "prefix=%d: %s was trained without an ordering (ordered=%s), so its first %d "
                "latents are the whole code truncated, not a code trained to stand alone "
                "(train with ordered=nested or ordered=matryoshka for that)",
                k,
                self.checkpoint,
                getattr(ordering, "name", "none"),
                k,
            )
        return replace(self, model=prefix_view(self.trained, k))

    # --- the model on inputs of any size ------------------------------------------------------
    @torch.no_grad()
    def apply(self, fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """`fn` applied to `x` in batches on the model's device; the result on the CPU."""
        parts = [
            fn(x[i : i + self.batch_size].to(self.device)).cpu()
            for i in range(0, len(x), self.batch_size)
        ]
        return torch.cat(parts) if parts else torch.empty(0)

    def inputs(self, x: Any) -> Tensor:
        """`x` (a tensor or numpy array, (N, *input_shape) or flat (N, n)) as float32 inputs
        shaped like the data."""
        x = torch.as_tensor(x, dtype=torch.float32)
        if tuple(x.shape[1:]) == self.input_shape:
            return x
        if x.dim() == 2 and x.shape[1] == self.n:
            return x.reshape(len(x), *self.input_shape)
        shape = ", ".join(str(s) for s in self.input_shape)
        raise ConfigError(
            f"inputs of shape {tuple(x.shape)} do not fit the model of {self.checkpoint}: give "
            f"(N, {shape}) or flat (N, {self.n})"
        )

    def encode(self, x: Any, k: int | None = None) -> Tensor:
        """The codes of inputs `x`: (N, k), or (N, latent_dim) without `k` (the posterior
        mean for a VAE)."""
        k = self._code_length(k)
        return self.apply(lambda batch: self.model.embed(batch, k), self.inputs(x))

    embed = encode  # the name the evaluation tasks use

    def decode(self, z: Any) -> Tensor:
        """Inputs decoded from codes `z` (N, k) with k <= latent_dim, the latents after the
        k-th at zero: (N, *input_shape)."""
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.dim() != 2 or not 1 <= z.shape[1] <= self.latent_dim:
            raise ConfigError(
                f"codes of shape {tuple(z.shape)} do not fit the model of {self.checkpoint}: "
                f"give (N, k) with k from 1 to {self.latent_dim}"
            )
        return self.apply(self.model.decode_prefix, z)

    def reconstruct(self, x: Any, k: int | None = None) -> Tensor:
        """The reconstructions of inputs `x` from their first `k` latents (default: the code)."""
        k = self._code_length(k)
        return self.apply(lambda batch: self.model.reconstruct(batch, k), self.inputs(x))

    def _code_length(self, k: Any) -> int | None:
        return None if k is None else check_prefix(k, self.latent_dim, self.checkpoint, "k")

    def data(self, split: str) -> dict[str, Tensor]:
        """A split of the run's data: ``x`` (inputs), ``label`` (class ids), maybe more.

        ``train``, ``val``, ``test``, or ``all``: the three concatenated in that order, with
        ``split`` (N,) the index of each sample's split in `SPLITS`.
        """
        if split in SPLITS:
            return self.datamodule.split(split)
        if split != "all":
            raise ConfigError(f"unknown split {split!r}; choose {', '.join(SPLITS)} or all")
        parts = [self.datamodule.split(name) for name in SPLITS]
        keys = [key for key in parts[0] if all(key in part for part in parts)]
        merged = {key: torch.cat([part[key] for part in parts]) for key in keys}
        merged["split"] = torch.cat(
            [torch.full((len(part["x"]),), i, dtype=torch.int64) for i, part in enumerate(parts)]
        )
        return merged


def check_prefix(k: Any, m: int, where: Any, name: str = "prefix") -> int:
    """`k` when it is an integer from 1 to `m`, else a `ConfigError` naming m and the run."""
    if is_integer(k) and 1 <= k <= m:
        return k
    size, whole = f"codes have {m}", ""
    if name == "prefix":
        size, whole = f"model has m={m}", ", or prefix=null for the whole code"
    raise ConfigError(
        f"{name}={k!r} does not fit {where}, whose {size} latents: give an integer from 1 to "
        f"{m} (the first k latents), e.g. {name}={max(1, m // 2)}{whole}"
    )


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
    prefix: Any = None,
) -> LoadedRun:
    """Rebuild model (weights loaded, eval mode) and DataModule (set up) of a training run.

    With `prefix` (an integer k from 1 to m), the run's model is restricted to its first k
    latents (`LoadedRun.restrict`).
    """
    path = resolve_checkpoint(ckpt_path)
    checkpoint = read_checkpoint(path)
    config = dict(checkpoint["aelab_config"])
    hparams = checkpoint["hyper_parameters"]
    if prefix is not None:  # refused before the data are built
        check_prefix(prefix, int(hparams["latent_dim"]), path)
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
    loaded = LoadedRun(model, datamodule, config, path, target, batch_size)
    return loaded if prefix is None else loaded.restrict(prefix)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} but no CUDA GPU is visible; use device=cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r}; choose cpu, cuda or auto")
    return device
