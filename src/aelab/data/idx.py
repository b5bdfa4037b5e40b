"""The IDX files of MNIST's format (MNIST, Fashion-MNIST, KMNIST): reading, finding, downloading,
and the DataModule base of the datasets stored in them.

The four files (`FILES`, ``.gz`` or uncompressed) are looked up in ``data_dir`` and in
torchvision's layout ``data_dir/<dataset>/raw``, and downloaded with torchvision's mirrors where
there is a network.
"""

import gzip
import logging
import zlib
from pathlib import Path

import numpy as np

from aelab.data.image_files import ImageFilesDataModule
from aelab.errors import ConfigError

log = logging.getLogger(__name__)

IDX_IMAGES = {"official": (60000, 10000), "t10k": (0, 10000)}  # (train file, test file)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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
            "expected the files of MNIST, Fashion-MNIST or KMNIST as their sites or torchvision "
            "give them"
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


def find_file(data_dir: Path, stem: str, folder: str = "MNIST") -> Path | None:
    """`stem` (.gz or not) in `data_dir` or in torchvision's ``data_dir/<folder>/raw``."""
    for place in (data_dir, data_dir / folder / "raw"):
        for name in (stem + ".gz", stem):
            if (place / name).is_file():
                return place / name
    return None


def download(data_dir: Path, stems: list[str], source: str = "MNIST") -> str | None:
    """Download the missing files with the mirrors of torchvision's dataset class `source`
    (MNIST, FashionMNIST, KMNIST); returns the error, if any."""
    import torchvision.datasets
    from torchvision.datasets.utils import download_url

    dataset = getattr(torchvision.datasets, source)
    md5 = dict(dataset.resources)
    error = None
    for stem in stems:
        for mirror in dataset.mirrors:
            try:
                download_url(mirror + stem + ".gz", str(data_dir), md5=md5[stem + ".gz"])
                error = None
                break
            except Exception as exc:  # network errors come in many types
                error = f"{type(exc).__name__}: {exc}"
        if error:
            return error
    return None


class IDXDataModule(ImageFilesDataModule):
    """Gray 28 x 28 images in the four IDX files of MNIST's format (`FILES`).

    `TORCHVISION` names torchvision's dataset class: its download mirrors, and its folder
    ``data_dir/<TORCHVISION>/raw`` where the files are looked up too.
    """

    TORCHVISION = "MNIST"

    def _load(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        images = read_idx(self._path(f"{kind}_images"))
        labels = read_idx(self._path(f"{kind}_labels"))
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ConfigError(
                f"{self.NAME} {kind} files in {self.data_dir} disagree: images {images.shape}, "
                f"labels {labels.shape}; expected (N, 28, 28) and (N,)"
            )
        if labels.size and int(labels.max()) >= len(self.CLASS_NAMES):
            raise ConfigError(
                f"{self.NAME} {kind} labels in {self.data_dir} reach {int(labels.max())}; "
                f"expected class ids 0..{len(self.CLASS_NAMES) - 1}: replace the files"
            )
        return images, labels

    def _path(self, key: str) -> Path:
        path = find_file(self.data_dir, FILES[key], self.TORCHVISION)
        if path is None:
            raise ConfigError(f"missing {FILES[key]}[.gz] in {self.data_dir}")
        return path

    def _ensure_files(self) -> None:
        kinds = ["test"] if self.split_name == self.TEST_ONLY else ["train", "test"]
        stems = [FILES[f"{k}_{part}"] for k in kinds for part in ("images", "labels")]
        missing = [s for s in stems if find_file(self.data_dir, s, self.TORCHVISION) is None]
        if not missing:
            return
        reason = "data.download=false"
        if self.download:
            log.info("downloading %s into %s", self.NAME, self.data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            reason = download(self.data_dir, missing, self.TORCHVISION)
            if reason is None:
                return
        raise ConfigError(
            f"{self.NAME} files not found in {self.data_dir} ({reason}); expected "
            f"{', '.join(s + '.gz' for s in FILES.values())} (split={self.TEST_ONLY} needs only "
            f"the two {self.TEST_ONLY} files); fix: copy them there or point "
            "data.data_dir=<dir> at them"
        )
