"""CIFAR-10 as an in-memory DataModule: 3 x 32 x 32 colour images with values in [0, 1].

The files are the extracted ``cifar-10-batches-py`` folder of ``cifar-10-python.tar.gz`` (as
torchvision unpacks it): the pickles data_batch_1 .. data_batch_5 (50k training images),
test_batch (10k) and batches.meta (the class names), found in ``data_dir`` or
``data_dir/cifar-10-batches-py``, and downloaded by torchvision where there is a network.
``split=official`` carves validation from the five training batches and tests on test_batch;
``split=test_batch`` carves train/val/test, seeded, from test_batch alone (small machines).
``classes`` (ids or names) keeps only those classes in train/val, for one-class runs.
"""

import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from aelab.data.image_files import ImageFilesDataModule, classes_key, files_schema
from aelab.errors import ConfigError

log = logging.getLogger(__name__)

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR_IMAGES = {"official": (50000, 10000), "test_batch": (0, 10000)}  # (train file, test file)
SHAPE = (3, 32, 32)  # each row of a batch's data: 1024 red, 1024 green, 1024 blue values

# what a batch may pickle besides plain containers: numpy arrays, as numpy 1 and 2 write them
ARRAY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}
FIX = f"delete it and extract {FOLDER} from cifar-10-python.tar.gz again (or data.download=true)"


class ForeignPickle(pickle.UnpicklingError):
    """A pickle that holds more than containers and numpy arrays."""


class _ArraysOnly(pickle.Unpickler):
    """Unpickles containers and numpy arrays only: reading a batch runs no other code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise ForeignPickle(f"it pickles {module}.{name}, not only arrays")


def read_batch(path: Path) -> dict[str, Any]:
    """One pickle of the folder as a dict with text keys (Python 2 wrote them as bytes)."""
    try:
        with path.open("rb") as file:
            content = _ArraysOnly(file, encoding="bytes").load()
    except ForeignPickle as error:
        raise ConfigError(f"{path} is not a CIFAR-10 batch ({error}); {FIX}") from None
    except Exception as error:  # noqa: BLE001 - a corrupt pickle fails in many ways
        raise ConfigError(
            f"cannot read {path}: {type(error).__name__}: {error} (truncated or corrupt file); "
            f"{FIX}"
        ) from None
    if not isinstance(content, dict):
        raise ConfigError(
            f"{path} is not a CIFAR-10 batch (it holds a {type(content).__name__}, not a dict); "
            f"{FIX}"
        )
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in content.items()}


def read_images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) of one batch file, checked."""
    batch = read_batch(path)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise ConfigError(
            f"{path} is not a CIFAR-10 batch (keys {', '.join(sorted(batch)) or 'none'}; "
            f"expected data and labels); {FIX}"
        )
    labels = np.asarray(labels)
    size = int(np.prod(SHAPE))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != size:
        raise ConfigError(
            f"{path} holds data of {data.dtype} {data.shape}, expected uint8 (N, {size}); {FIX}"
        )
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(
            f"{path} holds {labels.size} labels for {len(data)} images, expected one class id "
            f"each; {FIX}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise ConfigError(f"{path} holds labels outside 0..{len(CLASS_NAMES) - 1}; {FIX}")
    return data.reshape(-1, *SHAPE), labels.astype(np.int64)


def read_names(path: Path) -> list[str]:
    """The ten class names of batches.meta."""
    names = read_batch(path).get("label_names")
    if not isinstance(names, list) or len(names) != len(CLASS_NAMES):
        raise ConfigError(
            f"{path} holds no list of {len(CLASS_NAMES)} label_names (got {names!r:.60}); {FIX}"
        )
    return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]


def download(data_dir: Path) -> str | None:
    """Download and extract cifar-10-python.tar.gz with torchvision; returns the error, if any."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(
            CIFAR10.url, str(data_dir), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5
        )
    except Exception as error:  # noqa: BLE001 - network errors come in many types
        return f"{type(error).__name__}: {error}"
    return None


class CIFAR10DataModule(ImageFilesDataModule):
    """Ten classes of small photos; batches are dicts with ``x`` (N, 3, 32, 32) and ``label``."""

    NAME = "CIFAR-10"
    CLASS_NAMES = CLASS_NAMES
    INPUT_SHAPE = SHAPE
    TEST_ONLY = "test_batch"
    SCHEMA = files_schema("data/cifar10", CIFAR_IMAGES, classes_key(CLASS_NAMES))

    #: colour images, shown as they are
    render = "rgb"

    def __init__(self, data_dir: str = "data/cifar10", **kwargs) -> None:
        super().__init__(data_dir=data_dir, **kwargs)
        self.meta_names: list[str] | None = None  # from batches.meta, once read

    @property
    def class_names(self) -> list[str]:
        """The names of batches.meta once the data are read; CIFAR-10's own before."""
        return list(self.meta_names or CLASS_NAMES)

    @property
    def folder(self) -> Path:
        """``data_dir/cifar-10-batches-py`` when it exists, else ``data_dir`` itself."""
        nested = self.data_dir / FOLDER
        return nested if nested.is_dir() else self.data_dir

    def _needed(self) -> list[str]:
        if self.split_name == self.TEST_ONLY:
            return [TEST_BATCH, META]
        return [*TRAIN_BATCHES, TEST_BATCH, META]

    def _ensure_files(self) -> None:
        missing = [name for name in self._needed() if not (self.folder / name).is_file()]
        if missing:
            reason = "data.download=false"
            if self.download:
                log.info("downloading CIFAR-10 into %s", self.data_dir)
                self.data_dir.mkdir(parents=True, exist_ok=True)
                reason = download(self.data_dir)
                missing = [name for name in self._needed() if not (self.folder / name).is_file()]
                if reason is None and not missing:
                    return
                reason = reason or "the archive lacks them"
            raise ConfigError(
                f"CIFAR-10 files not found in {self.data_dir} or {self.data_dir / FOLDER} "
                f"({reason}): missing {', '.join(missing)}; expected the folder {FOLDER} of "
                f"cifar-10-python.tar.gz (data_batch_1..5, {TEST_BATCH}, {META}; "
                f"split=test_batch needs only {TEST_BATCH} and {META}); fix: extract the archive "
                "there or point data.data_dir=<dir> at the folder"
            )
        self.meta_names = read_names(self.folder / META)

    def _load(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        names = TRAIN_BATCHES if kind == "train" else (TEST_BATCH,)
        parts = [read_images(self.folder / name) for name in names]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
