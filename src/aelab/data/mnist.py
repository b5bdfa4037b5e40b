"""MNIST as an in-memory DataModule: 1 x 28 x 28 images with pixels in [0, 1].

Files are the four standard IDX files (``.gz`` or uncompressed), looked up in ``data_dir`` and in
torchvision's layout ``data_dir/MNIST/raw``. ``split=official`` uses the 60k training images
(validation carved from them) and the 10k test images; ``split=t10k`` carves train/val/test,
seeded, from the 10k test images alone.
"""

import gzip
import logging
import zlib
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
from aelab.errors import ConfigError
from aelab.schema.keys import Context, Key, Target
from aelab.schema.message import violation
from aelab.schema.types import Choice, Flag, Members, Text

log = logging.getLogger(__name__)

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SPLITS = ("official", "t10k")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), with a clear error if it is truncated or foreign."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (EOFError, OSError, zlib.error) as error:
        raise ConfigError(
            f"cannot read {path}: {error} (truncated or corrupt file); delete it and download "
            "or copy it again"
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES or raw[3] == 0:
        raise ConfigError(
            f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none'}); "
            "expected the MNIST files from yann.lecun.com or torchvision"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ConfigError(
            f"{path} holds {len(raw)} bytes but its header announces shape {shape} "
            f"({expected} bytes): the file is truncated or corrupt; replace it"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def find_file(data_dir: Path, stem: str) -> Path | None:
    for folder in (data_dir, data_dir / "MNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def download(data_dir: Path, stems: list[str]) -> str | None:
    """Download the missing files with torchvision's mirrors; returns the error, if any."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import download_url

    md5 = dict(MNIST.resources)
    error = None
    for stem in stems:
        for mirror in MNIST.mirrors:
            try:
                download_url(mirror + stem + ".gz", str(data_dir), md5=md5[stem + ".gz"])
                error = None
                break
            except Exception as exc:  # network errors come in many types
                error = f"{type(exc).__name__}: {exc}"
        if error:
            return error
    return None


# --- the config schema's sizes and rule -------------------------------------------------------
MNIST_IMAGES = {"official": (60000, 10000), "t10k": (0, 10000)}  # (train file, test file)


def _split_sizes(values: dict[str, Any]) -> dict[str, int]:
    """Samples per split key, as `MNISTDataModule.build_splits` carves them from the files."""
    train_file, test_file = MNIST_IMAGES[values["split"]]
    val, test = values["val_size"], values["test_size"]
    if values["split"] == "t10k":
        train = values["train_size"] or test_file - val - test
    else:
        train = values["train_size"] or train_file - val
        test = min(test, test_file)
    return {"train_size": train, "val_size": val, "test_size": test}


def _sizes_fit(ctx: Context) -> None:
    """The splits fit in the fixed MNIST files (official: 60k train / 10k test; t10k: 10k)."""
    split, val, test = ctx["data.split"], ctx["data.val_size"], ctx["data.test_size"]
    train_file, test_file = MNIST_IMAGES[split]
    if split == "official" and val >= train_file:
        raise violation(
            "data.val_size",
            f"smaller than the {train_file} training images (the rest trains)",
            val,
            1000,
        )
    total = (ctx["data.train_size"] or 1) + val + test
    if split == "t10k" and total > test_file:
        raise violation(
            "data.train_size + data.val_size + data.test_size",
            f"at most the {test_file} images of the t10k file (one at least to train)",
            total,
            1000,
            example_key="data.val_size",
        )


class MNISTDataModule(InMemoryDataModule):
    """MNIST digits; batches are dicts with ``x`` (N, 1, 28, 28) in [0, 1] and ``label``."""

    SCHEMA = Target(
        keys=(
            Key("data_dir", Text(), "data/mnist"),
            Key("split", Choice(SPLITS), "official"),
            Key("download", Flag(), True),
            *split_keys(50000, nullable_train=True),
            Key(
                "digits", Members(range(10), "a non-empty list of digits 0..9"), [3], nullable=True
            ),
            *loader_keys(256),
        ),
        rules=(_sizes_fit,),
        split_sizes=_split_sizes,
        sample_bytes=image_sample_bytes,
    )

    def __init__(
        self,
        data_dir: str = "data/mnist",
        split: str = "official",
        download: bool = True,
        train_size: int | None = None,
        val_size: int = 1000,
        test_size: int = 1000,
        digits: list[int] | None = None,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        seed: int = 1234,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, eval_batch_size=eval_batch_size)
        if split not in SPLITS:
            raise ConfigError(f"data.split must be one of {', '.join(SPLITS)}, got {split!r}")
        for name, size in (("val_size", val_size), ("test_size", test_size)):
            if not isinstance(size, int) or size <= 0:
                raise ConfigError(f"data.{name} must be a positive integer, got {size!r}")
        if train_size is not None and (not isinstance(train_size, int) or train_size <= 0):
            raise ConfigError(
                f"data.train_size must be a positive integer or null, got {train_size!r}"
            )
        if digits is not None:
            digits = list(digits)
            if not digits or any(d not in range(10) for d in digits):
                raise ConfigError(f"data.digits must list digits 0..9, got {digits!r}")
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.split_name = split
        self.download = download
        self.train_size = train_size
        self.val_size = val_size
        self.test_size = test_size
        self.digits = digits

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, 28, 28)

    @property
    def class_names(self) -> list[str]:
        return [str(d) for d in range(10)]

    @property
    def value_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def trained_classes(self) -> list[int]:
        """The digits of the training split: ``digits`` when set, else all ten."""
        return sorted(set(self.digits)) if self.digits is not None else list(range(10))

    def _load(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        images = read_idx(self._path(f"{kind}_images"))
        labels = read_idx(self._path(f"{kind}_labels"))
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ConfigError(
                f"MNIST {kind} files in {self.data_dir} disagree: images {images.shape}, labels "
                f"{labels.shape}; expected (N, 28, 28) and (N,)"
            )
        return images, labels

    def _path(self, key: str) -> Path:
        path = find_file(self.data_dir, FILES[key])
        if path is None:
            raise ConfigError(f"missing {FILES[key]}[.gz] in {self.data_dir}")
        return path

    def _ensure_files(self) -> None:
        kinds = ["test"] if self.split_name == "t10k" else ["train", "test"]
        stems = [FILES[f"{k}_{part}"] for k in kinds for part in ("images", "labels")]
        missing = [s for s in stems if find_file(self.data_dir, s) is None]
        if not missing:
            return
        reason = "data.download=false"
        if self.download:
            log.info("downloading MNIST into %s", self.data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            reason = download(self.data_dir, missing)
            if reason is None:
                return
        raise ConfigError(
            f"MNIST files not found in {self.data_dir} ({reason}); expected "
            f"{', '.join(s + '.gz' for s in FILES.values())} (split=t10k needs only the two "
            "t10k files); fix: copy them there or point data.data_dir=<dir> at them"
        )

    def build_splits(self) -> dict[str, Split]:
        self._ensure_files()
        rng = np.random.default_rng(self.seed)
        test_x, test_y = self._load("test")
        if self.split_name == "t10k":
            order = rng.permutation(len(test_x))
            train_size = self.train_size or len(test_x) - self.val_size - self.test_size
            sizes = (train_size, self.val_size, self.test_size)
            if sum(sizes) > len(test_x) or train_size <= 0:
                raise ConfigError(
                    f"train/val/test sizes {sizes} exceed the {len(test_x)} images of the t10k "
                    "file; lower data.train_size, data.val_size or data.test_size"
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
        if self.digits is not None:  # one-class experiments: only the listed digits to learn from
            for name in ("train", "val"):
                images, labels = splits[name]
                keep = np.isin(labels, self.digits)
                if not keep.any():
                    raise ConfigError(f"no {name} images of digits {self.digits}")
                splits[name] = (images[keep], labels[keep])
        return {name: self._to_split(*arrays) for name, arrays in splits.items()}

    @staticmethod
    def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
        x = torch.as_tensor(np.ascontiguousarray(images), dtype=torch.float32) / 255.0
        return {"x": x.unsqueeze(1), "label": torch.as_tensor(labels.astype(np.int64))}
