"""Shared DataModule logic: splits held as dicts of tensors, batched by `TensorBatches`.

Besides its splits, a DataModule declares what evaluation needs, so no task probes it:
``class_names``, ``trained_classes`` (the classes its training split holds), ``value_range``,
``render`` (how to picture a sample), ``units`` (physical units of the inputs, if any),
``intrinsics`` (per-sample parameters the data were generated from, if known) and
``alternative_test_split`` (the test split drawn again under changed settings, if possible) and
``offset_windows`` (windows centred on summits or elsewhere, for the sampling-bias protocol).
"""

import math
from dataclasses import dataclass

import lightning as L
import torch
from torch import Tensor

from aelab.data.loaders import TensorBatches
from aelab.errors import ConfigError
from aelab.schema.keys import Key, Target
from aelab.schema.types import AnyOf, Integer, Number, ValueType, is_integer

Split = dict[str, Tensor]  # "x": (N, C, H, W) inputs, "label": (N,) class ids, maybe more
FLOAT_BYTES = 4  # inputs are float32 (the memory check's sizes)
LABEL_BYTES = 8  # int64 class ids


# --- config keys every DataModule shares, for their SCHEMA -----------------------------------
def loader_keys(batch_size: int) -> tuple[Key, ...]:
    """``batch_size`` (its example `batch_size`), ``eval_batch_size`` and ``seed``."""
    return (
        Key("batch_size", Integer(ge=1), batch_size),
        Key(
            "eval_batch_size",
            Integer(ge=1),
            1024,
            nullable=True,
            note="(null: max(batch_size, 1024))",
        ),
        Key("seed", Integer(ge=0), 1234),
    )


def split_keys(train_size: int, nullable_train: bool) -> tuple[Key, ...]:
    """``train_size`` (its example `train_size`; null allowed if `nullable_train`),
    ``val_size`` and ``test_size``."""
    return (
        Key("train_size", Integer(ge=1), train_size, nullable=nullable_train),
        Key("val_size", Integer(ge=1), 1000),
        Key("test_size", Integer(ge=1), 1000),
    )


class NameList(ValueType):
    """A non-empty list of names (numbers are read as their text)."""

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase

    def fits(self, value: object) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) > 0
            and all(isinstance(v, str) or is_integer(v) for v in value)
        )


def held_out_type(what: str, of: str) -> ValueType:
    """A split size: a count, or a fraction of all samples (`of`: e.g. "all images")."""
    return AnyOf(
        Integer(ge=1),
        Number(gt=0, lt=1),
        phrase=f"a count >= 1 or a fraction in (0, 1) of {of} ({what})",
    )


MIN_TRAIN_SAMPLES = 8  # fewer cannot fit a model nor PCA worth comparing with


def held_out_counts(
    val_size: int | float, test_size: int | float, total: int, what: str
) -> tuple[int, int]:
    """Validation and test counts of `total` samples (`what`: e.g. "rows of x.npy"), leaving
    at least ``MIN_TRAIN_SAMPLES`` to train; else one line naming the sizes."""
    val, test = held_out_count(val_size, total), held_out_count(test_size, total)
    if total - val - test < MIN_TRAIN_SAMPLES:
        smallest = MIN_TRAIN_SAMPLES + 2
        fix = (
            "lower data.val_size / data.test_size"
            if total >= smallest
            else f"use at least {smallest} samples (one to validate, one to test, {MIN_TRAIN_SAMPLES} to train)"
        )
        raise ConfigError(
            f"data.val_size + data.test_size ({val} + {test}) leave {max(total - val - test, 0)} of "
            f"the {total} {what} to train, fewer than {MIN_TRAIN_SAMPLES}; {fix}"
        )
    return val, test


def held_out_count(value: int | float, total: int) -> int:
    """A count as given, or a fraction of `total` rounded (at least 1)."""
    return value if is_integer(value) else max(1, round(value * total))


def image_sample_bytes(input_dim: int) -> int:
    """Bytes of one sample holding its input and its label (a `Target`'s ``sample_bytes``)."""
    return FLOAT_BYTES * input_dim + LABEL_BYTES


@dataclass(frozen=True)
class Units:
    """Physical units of the inputs: an input value v means ``offset + scale * v`` in `name`."""

    name: str  # e.g. "m"
    scale: float
    offset: float = 0.0


class InMemoryDataModule(L.LightningDataModule):
    """Base for datasets that fit in memory.

    Subclasses define `input_shape`, `class_names`, `value_range` and `build_splits()`.
    """

    SCHEMA = Target(keys=loader_keys(256))  # a subclass's SCHEMA declares the keys it adds

    #: how figures picture a sample: "gray" images or "heightmap" patches
    render: str = "gray"

    def __init__(self, batch_size: int, seed: int, eval_batch_size: int | None = None) -> None:
        super().__init__()
        # the schema's check (the class's own declaration of the key, else this base's)
        key = self.SCHEMA.by_name.get("batch_size", InMemoryDataModule.SCHEMA.by_name["batch_size"])
        key.check("data", batch_size)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or max(batch_size, 1024)
        self.seed = seed  # the data: generation and splits
        self.order_seed = seed  # the training batch order; aelab-train sets it to the run's seed
        self.splits: dict[str, Split] = {}

    # --- what subclasses provide -------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        raise NotImplementedError

    @property
    def class_names(self) -> list[str]:
        raise NotImplementedError

    @property
    def value_range(self) -> tuple[float, float]:
        """The (low, high) range of typical inputs, used for noise probes and pictures."""
        raise NotImplementedError

    def build_splits(self) -> dict[str, Split]:
        raise NotImplementedError

    # --- what evaluation may ask (defaults: plain labelled data without units) ------------------
    @property
    def trained_classes(self) -> list[int]:
        """Class ids the training split holds (the "normal" classes of a one-class run)."""
        return list(range(len(self.class_names)))

    @property
    def units(self) -> Units | None:
        """Physical units of the inputs, or None when they have none (pixel intensities)."""
        return None

    @property
    def intrinsics(self) -> dict[str, list[str]]:
        """Split keys holding per-sample parameters, with the name of each column.

        E.g. ``{"params": ["base_altitude", ...], "descriptors": ["mean", "gx", ...]}``; empty
        when the data carry none.
        """
        return {}

    def alternative_test_split(self, size: int, seed: int | list[int], **changes) -> Split:
        """A test split of `size` samples drawn with `changes` to the data's settings.

        Standardised like the training split, so unchanged settings give samples from the
        training distribution. Data that cannot be drawn again raise `ConfigError`.
        """
        raise ConfigError(
            f"{type(self).__name__} cannot draw a test split with other settings "
            f"({', '.join(changes) or 'none given'}); use a protocol that tests on its test split"
        )

    def offset_windows(self, size: int, seed: int | list[int], offset: str) -> Split:
        """`size` test windows at `offset` from a summit (e.g. "summit", "uniform"), standardised
        like the training split: the sampling-bias protocol. Data without summits raise."""
        raise ConfigError(
            f"{type(self).__name__} has no windows at an offset from a summit; the sampling-bias "
            "protocol needs terrain (data=terrain) or an elevation model (data=dem)"
        )

    # --- shared -------------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return math.prod(self.input_shape)

    def setup(self, stage: str | None = None) -> None:
        if not self.splits:
            self.splits = self.build_splits()

    def split(self, name: str) -> Split:
        self.setup()
        return self.splits[name]

    def _loader(self, name: str, shuffle: bool) -> TensorBatches:
        trainer = self.trainer
        return TensorBatches(
            self.split(name),
            batch_size=self.batch_size if shuffle else self.eval_batch_size,
            shuffle=shuffle,
            seed=self.order_seed,
            epoch=(lambda: trainer.current_epoch) if trainer is not None else (lambda: 0),
            device=trainer.strategy.root_device if trainer is not None else None,
            rank=trainer.global_rank if trainer is not None else 0,
            world_size=trainer.world_size if trainer is not None else 1,
        )

    def train_dataloader(self) -> TensorBatches:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> TensorBatches:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self._loader("test", shuffle=False)

    def transfer_batch_to_device(self, batch: Split, device: torch.device, dataloader_idx: int):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


class HeightsInMetres(InMemoryDataModule):
    """Altitudes standardised with the training split's mean and std: terrain patches and
    windows of an elevation model. ``units`` and `to_metres` map back to metres."""

    render = "heightmap"
    altitude_mean: float = 0.0
    altitude_std: float = 1.0

    @property
    def value_range(self) -> tuple[float, float]:
        """The training split's lowest and highest standardised altitude."""
        x = self.split("train")["x"]
        return float(x.min()), float(x.max())

    @property
    def units(self) -> Units:
        """Metres: ``x`` is altitude standardised with the training split's mean and std."""
        self.setup()
        return Units("m", self.altitude_std, self.altitude_mean)

    def to_metres(self, x: torch.Tensor) -> torch.Tensor:
        """Map standardised inputs or reconstructions back to metres."""
        self.setup()
        return x * self.altitude_std + self.altitude_mean
