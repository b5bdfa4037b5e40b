"""Labelled images from a dataset's training and test files: the DataModule base of MNIST,
Fashion-MNIST, KMNIST and CIFAR-10, and the config schema they share.

A subclass names the dataset, declares its keys (``SCHEMA = files_schema(...)``) and reads its
files; this base splits them with a seed (``official``: validation carved from the training
file; the test-only split: train/val/test carved from the test file) and keeps only the listed
``classes`` in train/val for one-class runs.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aelab.data.base import (
    InMemoryDataModule,
    Split,
    image_sample_bytes,
    loader_keys,
    split_keys,
)
from aelab.data.images import plain
from aelab.errors import ConfigError
from aelab.schema.keys import Context, Key, Target
from aelab.schema.message import violation
from aelab.schema.types import Choice, Flag, Text, ValueType, is_integer


# --- the config schema -------------------------------------------------------------------------
class ClassList(ValueType):
    """A non-empty list of class ids (0 .. n - 1) or class names."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = tuple(names)
        self.phrase = (
            f"a non-empty list of class ids 0..{len(self.names) - 1} or names "
            f"({', '.join(self.names)})"
        )

    def fits(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) > 0
            and all((is_integer(v) and 0 <= v < len(self.names)) or v in self.names for v in value)
        )


def classes_key(names: tuple[str, ...]) -> Key:
    """The ``classes`` key of a labelled dataset: the classes of train/val (null: all)."""
    return Key("classes", ClassList(names), [0], nullable=True, note="(null: every class)")


def files_schema(
    data_dir: str, images: dict[str, tuple[int, int]], classes: Key, *more: Key
) -> Target:
    """The SCHEMA of an `ImageFilesDataModule`: its keys, and sizes that fit in its files.

    `images` gives, per split, the images of the training and the test file it uses, e.g.
    `aelab.data.idx.IDX_IMAGES`; the split using no training file is the one carved from the test file.
    `classes` is the key listing the classes to train on (`classes_key`, or a narrower type);
    `more` are the dataset's own keys.
    """
    test_only = next(name for name, (train_file, _) in images.items() if train_file == 0)

    def split_sizes(values: dict[str, Any]) -> dict[str, int]:
        """Samples per split key, as `ImageFilesDataModule.build_splits` carves them."""
        train_file, test_file = images[values["split"]]
        val, test = values["val_size"], values["test_size"]
        if values["split"] == test_only:
            train = values["train_size"] or test_file - val - test
        else:
            train = values["train_size"] or train_file - val
            test = min(test, test_file)
        return {"train_size": train, "val_size": val, "test_size": test}

    def sizes_fit(ctx: Context) -> None:
        """The splits fit in the dataset's fixed files."""
        split, val, test = ctx["data.split"], ctx["data.val_size"], ctx["data.test_size"]
        train_file, test_file = images[split]
        if split != test_only and val >= train_file:
            raise violation(
                "data.val_size",
                f"smaller than the {train_file} training images (the rest trains)",
                val,
                1000,
            )
        total = (ctx["data.train_size"] or 1) + val + test
        if split == test_only and total > test_file:
            raise violation(
                "data.train_size + data.val_size + data.test_size",
                f"at most the {test_file} images of the {test_only} file (one at least to train)",
                total,
                1000,
                example_key="data.val_size",
            )

    return Target(
        keys=(
            Key("data_dir", Text(), data_dir),
            Key("split", Choice(tuple(images)), "official"),
            Key("download", Flag(), True),
            *split_keys(images["official"][0] - 10000, nullable_train=True),
            classes,
            *more,
            *loader_keys(256),
        ),
        rules=(sizes_fit,),
        split_sizes=split_sizes,
        sample_bytes=image_sample_bytes,
    )


# --- the DataModule ----------------------------------------------------------------------------
class ImageFilesDataModule(InMemoryDataModule):
    """Labelled images from a dataset's training and test files, split with a seed.

    ``split=official`` carves validation from the training file and tests on the test file; the
    split `TEST_ONLY` carves train/val/test from the test file alone. ``classes`` (ids or names)
    keeps only those classes in train/val (one-class runs; test keeps every class). Subclasses
    name the dataset, declare its keys (``SCHEMA = files_schema(...)``, which the constructor
    checks values against) and read its files (`_ensure_files`, `_load`).
    """

    NAME = "images"  # the dataset, in messages
    CLASS_NAMES: tuple[str, ...] = ()
    INPUT_SHAPE: tuple[int, int, int] = (1, 28, 28)
    TEST_ONLY = "t10k"  # the split carved from the test file alone

    def __init__(
        self,
        data_dir: str,
        split: str = "official",
        download: bool = True,
        train_size: int | None = None,
        val_size: int = 1000,
        test_size: int = 1000,
        classes: list[int | str] | None = None,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        seed: int = 1234,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, eval_batch_size=eval_batch_size)
        classes = plain(classes)
        settings = {
            "split": split,
            "train_size": train_size,
            "val_size": val_size,
            "test_size": test_size,
        }
        if classes is not None:
            settings["classes"] = classes
        self.SCHEMA.check_values("data", settings)
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.split_name = split
        self.download = download
        self.train_size = train_size
        self.val_size = val_size
        self.test_size = test_size
        self.classes = None if classes is None else list(classes)
        self.keep = None if classes is None else self._class_ids(self.classes)

    def _class_ids(self, classes: list[int | str]) -> list[int]:
        """Class ids of `classes` (ids or names, checked by the schema)."""
        names = self.CLASS_NAMES
        return [c if is_integer(c) else names.index(c) for c in classes]

    # --- what a subclass provides -------------------------------------------------------------
    def _ensure_files(self) -> None:
        """Check (or download) the files the split needs; `ConfigError` naming them if absent."""
        raise NotImplementedError

    def _load(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, H, W) or (N, C, H, W) uint8 and labels (N,) of the ``train``/``test`` file."""
        raise NotImplementedError

    # --- declarations -------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.INPUT_SHAPE

    @property
    def class_names(self) -> list[str]:
        return list(self.CLASS_NAMES)

    @property
    def value_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def trained_classes(self) -> list[int]:
        """The classes of the training split: those listed in the classes key, else all."""
        if self.keep is not None:
            return sorted(set(self.keep))
        return list(range(len(self.class_names)))

    # --- the splits ---------------------------------------------------------------------------
    def build_splits(self) -> dict[str, Split]:
        self._ensure_files()
        rng = np.random.default_rng(self.seed)
        test_x, test_y = self._load("test")
        if self.split_name == self.TEST_ONLY:
            order = rng.permutation(len(test_x))
            train_size = self.train_size or len(test_x) - self.val_size - self.test_size
            sizes = (train_size, self.val_size, self.test_size)
            if sum(sizes) > len(test_x) or train_size <= 0:
                raise ConfigError(
                    f"train/val/test sizes {sizes} exceed the {len(test_x)} images of the "
                    f"{self.TEST_ONLY} file; lower data.train_size, data.val_size or "
                    "data.test_size"
                )
            cut = np.cumsum(sizes)
            parts = {
                "train": order[: cut[0]],
                "val": order[cut[0] : cut[1]],
                "test": order[cut[1] : cut[2]],
            }
            splits = {name: (test_x[i], test_y[i]) for name, i in parts.items()}
        else:
            train_x, train_y = self._load("train")
            if self.val_size >= len(train_x):
                raise ConfigError(
                    f"data.val_size={self.val_size} leaves no training images out of "
                    f"{len(train_x)}; lower it"
                )
            order = rng.permutation(len(train_x))
            val, train = order[: self.val_size], order[self.val_size :]
            if self.train_size is not None:
                train = train[: self.train_size]
            test = rng.permutation(len(test_x))[: self.test_size]
            splits = {
                "train": (train_x[train], train_y[train]),
                "val": (train_x[val], train_y[val]),
                "test": (test_x[test], test_y[test]),
            }
        if self.keep is not None:  # one-class experiments: only the listed classes to learn from
            for name in ("train", "val"):
                images, labels = splits[name]
                keep = np.isin(labels, self.keep)
                if not keep.any():
                    raise ConfigError(f"no {name} images of classes {self.classes}")
                splits[name] = (images[keep], labels[keep])
        return {name: self._to_split(*arrays) for name, arrays in splits.items()}

    @staticmethod
    def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
        x = torch.as_tensor(np.ascontiguousarray(images), dtype=torch.float32) / 255.0
        x = x.unsqueeze(1) if x.ndim == 3 else x  # gray (N, H, W) -> (N, 1, H, W)
        return {"x": x, "label": torch.as_tensor(labels.astype(np.int64))}
