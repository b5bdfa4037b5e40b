"""An array file as a DataModule: N vectors or images from one ``.npy``, ``.npz`` or ``.pt`` file.

Shapes: (N, d) vectors are samples of shape (1, 1, d) (``shape`` folds them into images, e.g.
[1, 28, 28]), (N, H, W) images (1, H, W), (N, C, H, W) images stay as they are. Building the
DataModule reads the file's header and its labels only, so ``input_shape`` is known at once.

Labels (optional): the file ``labels_path``, else the ``labels_key`` array of an .npz or a .pt
dict (``labels`` when there is one). Integers or strings, one per row; the class names are the
sorted distinct labels as text, or ``class_names`` (integer labels then are their ids).

Splits: ``val_size`` and ``test_size`` rows (counts, or fractions of N) are held out in a
permutation seeded by ``seed``, the rest trains (at most ``train_size`` rows); ``classes`` keeps
only those classes in train and val (one-class runs; test keeps every class). Each split holds its
rows in that permuted order.

Values: float32, standardised with the training split's statistics if asked (``standardize``:
``global``, one mean and std; ``per_feature``, one per input); ``mean`` and ``std`` are kept and
``to_original`` maps back. ``value_range`` is the training split's (min, max) after
standardisation, unless declared.

Memory: when the splits need more than ``in_memory_limit`` as float32, the file is not loaded.
It is read in chunks into a float32 cache file in ``cache_dir`` (the rows in split order,
standardised), and the splits are views of that file mapped into memory
(`aelab.data.loaders.mapped_tensor`): a batch reads its own rows, PCA reads the training split in
chunks (`aelab.metrics.pca`). Writing the rows in split order is what lets the splits be
contiguous views with the same seeded split as in memory; the cache is reused while the file and
the settings that shape it are unchanged. An .npy, or a .pt in torch's zip format, is read in
chunks; an .npz is read whole, so it must fit in memory.
"""

import logging
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aelab.data.base import (
    InMemoryDataModule,
    NameList,
    Split,
    held_out_count,
    held_out_counts,
    held_out_type,
    loader_keys,
)
from aelab.data.cache import (
    cache_path,
    cache_stem,
    file_stat,
    fingerprint,
    remove_older,
    write_mapped,
)
from aelab.data.loaders import mapped_tensor
from aelab.errors import ConfigError
from aelab.runs.atomic import atomic_open
from aelab.schema.keys import Key, Target
from aelab.schema.memory import available_memory
from aelab.schema.message import violation
from aelab.schema.types import (
    Choice,
    Text,
    ValueType,
    is_integer,
    is_number,
)

log = logging.getLogger(__name__)

EXTENSIONS = (".npy", ".npz", ".pt")
STANDARDIZE = ("none", "global", "per_feature")
DEFAULT_MEMORY_FRACTION = 0.25  # in_memory_limit=null: this share of the memory available
CHUNK_VALUES = 2**18  # values read at a time while building the splits (2 MiB as float64)
CACHE_VERSION = 1  # bump when the cache's content changes: older caches are then rebuilt
EXAMPLE_PATH = "data/vectors.npy"
UNLABELLED = "all"  # the one class of a file without labels
BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
BYTE_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
SIZE_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$", re.IGNORECASE)


# --- the config keys' types -------------------------------------------------------------------
def memory_limit(value: Any) -> tuple[str, float] | None:
    """``("bytes", n)`` or ``("fraction", f)`` for an ``in_memory_limit``; None if it is not one."""
    if is_integer(value):
        return ("bytes", value) if value >= 0 else None
    if is_number(value):
        return ("fraction", value) if 0 < value <= 1 else None
    if isinstance(value, str) and (match := SIZE_TEXT.match(value)):
        return ("bytes", float(match[1]) * BYTE_UNITS[(match[2] or "").lower()])
    return None


class MemorySize(ValueType):
    phrase = (
        "bytes (an integer >= 0, or text such as 500MB or 2GiB) or a fraction in (0, 1] of the "
        "memory available"
    )

    def fits(self, value: Any) -> bool:
        return memory_limit(value) is not None


class Shape(ValueType):
    phrase = "a list [C, H, W] or [H, W] of positive integers"

    def fits(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) in (2, 3)
            and all(is_integer(v) and v > 0 for v in value)
        )


class Range(ValueType):
    phrase = "a list [low, high] of two numbers, low < high"

    def fits(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(is_number(v) for v in value)
            and value[0] < value[1]
        )


def size_text(size: float) -> str:
    """Bytes for people: 512 B, 3.1 MiB, 2.0 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


# --- reading the file -------------------------------------------------------------------------
def file_error(key: str, path: Path, problem: str, fix: str) -> ConfigError:
    """One line: the file, what is wrong with it, the fix."""
    return ConfigError(f"{key}={path}: {problem}; {fix}")


def existing_file(key: str, path: Any) -> Path:
    """`path` (``data.path`` or ``data.labels_path``) as an existing .npy, .npz or .pt file."""
    if path is None or str(path).strip() == "":
        raise violation(key, "set to an .npy, .npz or .pt file", repr(path), EXAMPLE_PATH)
    resolved = Path(str(path)).expanduser().resolve()
    if resolved.suffix.lower() not in EXTENSIONS:
        got = f"{str(path)!r} (extension {resolved.suffix or 'none'!r})"
        raise violation(key, "an .npy, .npz or .pt file", got, EXAMPLE_PATH)
    if not resolved.is_file():
        where = "a folder" if resolved.is_dir() else "not found"
        raise violation(key, "an existing file", f"{str(path)!r} ({where})", EXAMPLE_PATH)
    return resolved


@dataclass
class Entry:
    """The data array of a file, known from its header: shape, dtype and how to read its rows."""

    shape: tuple[int, ...]
    dtype: str  # e.g. "float32", "uint8"
    read: Callable[[], Any]  # the rows, sliceable: np.ndarray, np.memmap or torch.Tensor
    streams: bool  # read() maps the file instead of loading it whole
    name: str  # the key within an .npz or .pt dict, "" for a bare array


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def pick(
    key: str,
    path: Path,
    names: list[str],
    wanted: str | None,
    default: str,
    exclude: str | None,
    option: str = "data.key",
) -> str:
    """The entry `wanted` (the value of `option`) of a file with entries `names`, else
    `default`, else the only one but `exclude`."""
    listed = ", ".join(names) or "none"
    if wanted is not None:
        if wanted not in names:
            raise file_error(
                key,
                path,
                f"has no entry {wanted!r} (entries: {listed})",
                f"set {option} to one of them (e.g. {option}={names[0] if names else default})",
            )
        return wanted
    if default in names:
        return default
    rest = [n for n in names if n != exclude]
    if len(rest) == 1:
        return rest[0]
    raise file_error(
        key,
        path,
        f"holds entries {listed} but none is named {default!r}",
        f"choose the data with data.key=<entry> (e.g. data.key={rest[0] if rest else default})",
    )


def npz_header(path: Path, name: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """Shape and dtype of entry `name` of an .npz from its header (None if it has none we read)."""
    with zipfile.ZipFile(path) as archive, archive.open(name + ".npy") as handle:
        version = np.lib.format.read_magic(handle)
        readers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        if version not in readers:
            return None
        shape, _, dtype = readers[version](handle)
        return tuple(shape), dtype


def labels_entry(path: Path, names: list[str], labels_key: str | None) -> str | None:
    """The labels' entry in a file with entries `names`: `labels_key`, else "labels" if any."""
    if labels_key is None and "labels" not in names:
        return None
    return pick("data.path", path, names, labels_key, "labels", None, "data.labels_key")


def numpy_dtype(dtype: torch.dtype) -> str:
    """A torch dtype's numpy name (bfloat16, which numpy lacks, is read as float32)."""
    if dtype == torch.bfloat16:
        return "float32"
    return str(torch.empty(0, dtype=dtype).numpy().dtype)


def open_npy(path: Path, key: str | None, labels_key: str | None) -> tuple[Entry, Any]:
    if key is not None or labels_key is not None:
        which = "data.key" if key is not None else "data.labels_key"
        raise file_error(
            "data.path",
            path,
            f"an .npy holds one array, so {which} does not apply",
            f"drop {which} (labels come from data.labels_path)",
        )
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return Entry(array.shape, str(array.dtype), lambda: array, True, ""), None


def open_npz(path: Path, key: str | None, labels_key: str | None) -> tuple[Entry, Any]:
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        labels_name = labels_entry(path, names, labels_key)
        name = pick("data.path", path, names, key, "x", labels_name)
        labels = archive[labels_name] if labels_name is not None else None
        header = npz_header(path, name)
        if header is None:
            array = archive[name]
            header = (array.shape, array.dtype)
    shape, dtype = header

    def read() -> np.ndarray:
        with np.load(path, allow_pickle=False) as archive:
            return archive[name]

    return Entry(tuple(shape), str(dtype), read, False, name), labels


def open_pt(path: Path, key: str | None, labels_key: str | None) -> tuple[Entry, Any]:
    try:
        content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        streams = True
    except RuntimeError as error:  # a file of torch's legacy format cannot be mapped
        if "mmap" not in str(error) and "zip" not in str(error):
            raise
        content = torch.load(path, map_location="cpu", weights_only=True)
        streams = False
    fix = "save a tensor, or a dict of tensors: torch.save({'x': x, 'labels': labels}, path)"
    if isinstance(content, torch.Tensor):
        if key is not None or labels_key is not None:
            raise file_error(
                "data.path",
                path,
                "holds one tensor, so data.key and data.labels_key do not apply",
                "drop them (labels come from data.labels_path)",
            )
        tensors, name, labels = {"": content}, "", None
    elif isinstance(content, dict) and all(isinstance(k, str) for k in content):
        names = list(content)
        labels_name = labels_entry(path, names, labels_key)
        name = pick("data.path", path, names, key, "x", labels_name)
        tensors = content
        labels = content[labels_name] if labels_name is not None else None
        for entry, value in ((name, tensors[name]), (labels_name, labels)):
            if entry is not None and not isinstance(value, torch.Tensor):
                raise file_error(
                    "data.path", path, f"entry {entry!r} is a {type(value).__name__}", fix
                )
    else:
        raise file_error(
            "data.path", path, f"holds a {type(content).__name__}, not a tensor or a dict", fix
        )
    tensor = tensors[name]
    if tensor.is_complex():
        raise file_error("data.path", path, f"holds {tensor.dtype} values", "save real numbers")
    return Entry(tuple(tensor.shape), numpy_dtype(tensor.dtype), lambda: tensor, streams, name), (
        None if labels is None else labels.numpy()
    )


OPENERS = {".npy": open_npy, ".npz": open_npz, ".pt": open_pt}


def open_file(path: Path, key: str | None, labels_key: str | None) -> tuple[Entry, Any]:
    """The data entry of an array file and the labels it holds (None when it holds none)."""
    try:
        entry, labels = OPENERS[path.suffix.lower()](path, key, labels_key)
    except ConfigError:
        raise
    except Exception as error:  # truncated, corrupt, pickled objects, not an array file at all
        raise file_error(
            "data.path",
            path,
            f"cannot be read as {path.suffix.lower()} ({first_line(error)})",
            "write it again with np.save / np.savez / torch.save (numbers, no Python objects)",
        ) from None
    kind = np.dtype(entry.dtype).kind
    if kind not in "biuf":
        raise file_error(
            "data.path",
            path,
            f"holds {entry.dtype} values, not numbers",
            "save numbers (e.g. x.astype(np.float32))",
        )
    if len(entry.shape) not in (2, 3, 4):
        raise file_error(
            "data.path",
            path,
            f"holds an array of shape {entry.shape} (rank {len(entry.shape)})",
            "save (N, d) vectors, (N, H, W) or (N, C, H, W) images",
        )
    if 0 in entry.shape:
        raise file_error("data.path", path, f"holds an empty array {entry.shape}", "save rows")
    return entry, labels


def read_labels(path: Path, key: str | None) -> Any:
    """The labels array of ``data.labels_path`` (an .npz or .pt dict: entry `key` or the only)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                return archive[
                    pick("data.labels_path", path, names, key, "labels", None, "data.labels_key")
                ]
        content = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(content, dict):
            names = [k for k in content if isinstance(k, str)]
            content = content[
                pick("data.labels_path", path, names, key, "labels", None, "data.labels_key")
            ]
        if not isinstance(content, torch.Tensor):
            raise file_error(
                "data.labels_path",
                path,
                f"holds a {type(content).__name__}, not a tensor",
                "save the labels with torch.save(labels, path) or np.save",
            )
        return content.numpy()
    except ConfigError:
        raise
    except Exception as error:
        raise file_error(
            "data.labels_path",
            path,
            f"cannot be read as {suffix} ({first_line(error)})",
            "save the labels with np.save(path, labels) (integers or strings, one per row)",
        ) from None


def label_values(labels: Any, rows: int, where: str) -> np.ndarray:
    """`labels` as a 1-D array of integers (int64) or strings, one per row."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != rows:
        got = f"{len(labels)} labels" if labels.ndim == 1 else f"labels of shape {labels.shape}"
        raise ConfigError(
            f"{where}: {got} for {rows} rows of data; give one label per row, shape ({rows},)"
        )
    if labels.dtype.kind in "biu":
        return labels.astype(np.int64)
    if labels.dtype.kind in "US":
        return labels.astype(str)
    raise ConfigError(
        f"{where}: labels must be integers or strings, got {labels.dtype}; save them as "
        "integers (e.g. labels.astype(np.int64))"
    )


def class_ids(labels: np.ndarray | None, names: list[str] | None, rows: int, where: str):
    """Class ids (int64, one per row) and the class names."""
    if labels is None:
        if names is not None:
            raise violation(
                "data.class_names",
                "null for a file without labels (give labels: data.labels_path)",
                repr(names),
                None,
            )
        return np.zeros(rows, dtype=np.int64), [UNLABELLED]
    if names is None:
        values, ids = np.unique(labels, return_inverse=True)
        return ids.astype(np.int64).reshape(-1), [str(v) for v in values]
    names = [str(n) for n in names]
    if len(set(names)) != len(names):
        raise violation("data.class_names", "distinct names", repr(names), ["a", "b"])
    if labels.dtype.kind in "iu":
        bad = labels[(labels < 0) | (labels >= len(names))]
        if len(bad):
            raise ConfigError(
                f"{where}: label {int(bad[0])} is no id of the {len(names)} data.class_names "
                f"(ids 0..{len(names) - 1}); give a name per id, or drop data.class_names"
            )
        return labels, names
    lookup = {name: i for i, name in enumerate(names)}
    values, inverse = np.unique(labels, return_inverse=True)
    unknown = [str(v) for v in values if str(v) not in lookup]
    if unknown:
        raise ConfigError(
            f"{where}: label {unknown[0]!r} is not in data.class_names ({', '.join(names)}); "
            "add it, or drop data.class_names"
        )
    ids = np.array([lookup[str(v)] for v in values], dtype=np.int64)
    return ids[inverse.reshape(-1)], names


def chosen_classes(classes: list[Any], names: list[str]) -> list[int]:
    """Class ids of ``data.classes``: names first, then ids (as ``anomaly.normal_classes``)."""
    ids = []
    for name in classes:
        if str(name) in names:
            ids.append(names.index(str(name)))
        elif is_integer(name) and 0 <= name < len(names):
            ids.append(name)
        else:
            raise violation(
                "data.classes",
                f"classes of the labels (known: {', '.join(names[:20])})",
                f"unknown class {name!r}",
                [names[0]],
            )
    return sorted(set(ids))


def read_rows(rows: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a np array, memory map or tensor, as a numpy array."""
    part = rows[start:stop]
    if isinstance(part, torch.Tensor):
        return (part.float() if part.dtype == torch.bfloat16 else part).numpy()
    return np.asarray(part)


# --- statistics -------------------------------------------------------------------------------
class Moments:
    """Per-input count, mean and sum of squared deviations, merged chunk by chunk (float64)."""

    def __init__(self, inputs: int) -> None:
        self.count = 0
        self.mean = np.zeros(inputs)
        self.m2 = np.zeros(inputs)

    def add(self, chunk: np.ndarray) -> None:
        """Merge the rows of `chunk` (k, d), float64; `chunk` is overwritten."""
        count, mean = len(chunk), chunk.mean(axis=0)
        total, delta = self.count + count, mean - self.mean
        chunk -= mean
        chunk **= 2
        self.m2 += chunk.sum(axis=0) + delta**2 * self.count * count / total
        self.mean += delta * count / total
        self.count = total

    def standardisation(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std (0 replaced by 1): per input, or one of all inputs (`kind` global)."""
        if kind == "per_feature":
            std = np.sqrt(self.m2 / self.count)
            return self.mean, np.where(std > 0, std, 1.0)
        grand = self.mean.mean()
        m2 = self.m2.sum() + self.count * ((self.mean - grand) ** 2).sum()
        std = math.sqrt(m2 / (self.count * len(self.mean)))
        return np.asarray(grand), np.asarray(std if std > 0 else 1.0)


@dataclass
class Filled:
    """What filling the splits found: the standardisation and the training split's range."""

    mean: np.ndarray  # () or (d,)
    std: np.ndarray
    value_range: tuple[float, float]


# --- the config schema ------------------------------------------------------------------------
NAMES = "a non-empty list of class names or ids"


class ArrayDataModule(InMemoryDataModule):
    """N vectors or images from one array file; batches are dicts with ``x`` and ``label``."""

    SCHEMA = Target(
        keys=(
            Key("path", Text(), EXAMPLE_PATH, nullable=True, note="(an .npy, .npz or .pt file)"),
            Key("key", Text(), "x", nullable=True, note="(the data's entry in an .npz or .pt)"),
            Key("labels_path", Text(), "data/labels.npy", nullable=True),
            Key("labels_key", Text(), "labels", nullable=True),
            Key("class_names", NameList(NAMES), ["normal", "odd"], nullable=True),
            Key("classes", NameList(NAMES), ["0"], nullable=True),
            Key("shape", Shape(), [1, 28, 28], nullable=True),
            Key("standardize", Choice(STANDARDIZE), "global"),
            Key("value_range", Range(), [0.0, 1.0], nullable=True),
            Key("train_size", held_out_type("null: the rest", "the rows"), 0.8, nullable=True),
            Key("val_size", held_out_type("validation", "the rows"), 0.1),
            Key("test_size", held_out_type("test", "the rows"), 0.1),
            Key("in_memory_limit", MemorySize(), "2GiB", nullable=True),
            Key("cache_dir", Text(), "data/cache"),
            *loader_keys(256),
        ),
    )

    def __init__(
        self,
        path: str | None = None,
        key: str | None = None,
        labels_path: str | None = None,
        labels_key: str | None = None,
        class_names: list[str] | None = None,
        classes: list[str] | None = None,
        shape: list[int] | None = None,
        standardize: str = "none",
        value_range: list[float] | None = None,
        train_size: int | float | None = None,
        val_size: int | float = 0.1,
        test_size: int | float = 0.1,
        in_memory_limit: int | float | str | None = None,
        cache_dir: str = "data/cache",
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        seed: int = 1234,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, eval_batch_size=eval_batch_size)
        settings = {
            "path": path,
            "key": key,
            "labels_path": labels_path,
            "labels_key": labels_key,
            "class_names": class_names,
            "classes": classes,
            "shape": shape,
            "standardize": standardize,
            "value_range": value_range,
            "train_size": train_size,
            "val_size": val_size,
            "test_size": test_size,
            "in_memory_limit": in_memory_limit,
            "cache_dir": cache_dir,
        }
        self.SCHEMA.check_values("data", settings)
        self.path = existing_file("data.path", path)
        self.labels_path = existing_file("data.labels_path", labels_path) if labels_path else None
        self.settings = settings
        self.standardize = standardize
        self.declared_range = None if value_range is None else tuple(map(float, value_range))
        self.cache_dir = Path(cache_dir).expanduser().resolve()
        # labels_key names the labels' entry in the labels file when there is one
        self.entry, labels = open_file(self.path, key, None if self.labels_path else labels_key)
        self.rows = self.entry.shape[0]
        self._input_shape = self._shape(shape)
        self.render = "rgb" if self._input_shape[0] == 3 else "gray"  # how figures picture one
        if self.labels_path is not None:
            labels, where = (
                read_labels(self.labels_path, labels_key),
                f"data.labels_path={self.labels_path}",
            )
        else:
            where = f"data.path={self.path}"
        labels = None if labels is None else label_values(labels, self.rows, where)
        if labels is None and classes is not None:
            raise violation(
                "data.classes",
                "null for a file without labels (give labels: data.labels_path)",
                repr(classes),
                None,
            )
        self.ids, self._class_names = class_ids(labels, class_names, self.rows, where)
        self.classes = None if classes is None else chosen_classes(classes, self._class_names)
        self.sizes = self._held_out_sizes()
        self.mean: np.ndarray = np.asarray(0.0)
        self.std: np.ndarray = np.asarray(1.0)
        self._range: tuple[float, float] | None = None
        self.mapped = False  # whether the splits are views of a memory-mapped cache file

    # --- declarations -------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self._input_shape

    @property
    def class_names(self) -> list[str]:
        return self._class_names

    @property
    def value_range(self) -> tuple[float, float]:
        """``value_range`` when declared, else the training split's (min, max) as it is fed."""
        if self.declared_range is not None:
            return self.declared_range
        self.setup()
        return self._range

    @property
    def trained_classes(self) -> list[int]:
        """The ids of ``classes`` when set, else every class."""
        return self.classes if self.classes is not None else list(range(len(self.class_names)))

    def to_original(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs or reconstructions in the file's own values."""
        self.setup()
        shape = self.input_shape if self.mean.ndim else ()
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape)
        return x * std + mean

    # --- the settings -------------------------------------------------------------------------
    def _shape(self, shape: list[int] | None) -> tuple[int, int, int]:
        sample = self.entry.shape[1:]
        inputs = math.prod(sample)
        if shape is not None:
            if math.prod(shape) != inputs:
                raise violation(
                    "data.shape",
                    f"a shape of the {inputs} inputs of a row {sample} (product {inputs})",
                    repr(list(shape)),
                    [1, *sample] if len(sample) < 3 else list(sample),
                )
            shape = list(shape)
            return tuple([1, *shape] if len(shape) == 2 else shape)
        return tuple([1] * (3 - len(sample)) + list(sample))

    def _held_out_sizes(self) -> dict[str, int]:
        val, test = held_out_counts(
            self.settings["val_size"],
            self.settings["test_size"],
            self.rows,
            f"rows of {self.path.name}",
        )
        return {"val": val, "test": test}

    def split_rows(self) -> dict[str, np.ndarray]:
        """File rows of each split, in the seeded order (``classes`` and ``train_size`` applied)."""
        order = np.random.default_rng(self.seed).permutation(self.rows)
        val, test = self.sizes["val"], self.sizes["test"]
        parts = {"train": order[val + test :], "val": order[:val], "test": order[val : val + test]}
        if self.classes is not None:
            for name in ("train", "val"):
                kept = parts[name][np.isin(self.ids[parts[name]], self.classes)]
                if not len(kept):
                    chosen = [self.class_names[c] for c in self.classes]
                    raise ConfigError(
                        f"no {name} rows of data.classes={chosen} in {self.path.name}; choose "
                        "classes with more rows or lower data.val_size / data.test_size"
                    )
                parts[name] = kept
        limit = self.settings["train_size"]
        if limit is not None:
            count = held_out_count(limit, self.rows)
            if count > len(parts["train"]):
                raise violation(
                    "data.train_size",
                    f"at most the {len(parts['train'])} training rows left (or null: all)",
                    repr(limit),
                    None,
                )
            parts["train"] = parts["train"][:count]
        return parts

    def memory_budget(self) -> int:
        """Bytes the splits may take in memory (``in_memory_limit``)."""
        kind, value = memory_limit(self.settings["in_memory_limit"]) or (
            "fraction",
            DEFAULT_MEMORY_FRACTION,
        )
        return int(value * available_memory()) if kind == "fraction" else int(value)

    # --- the splits ---------------------------------------------------------------------------
    def build_splits(self) -> dict[str, Split]:
        parts = self.split_rows()
        order = np.concatenate([parts["train"], parts["val"], parts["test"]])
        bounds = np.cumsum([0, *(len(parts[n]) for n in ("train", "val", "test"))])
        needed = len(order) * math.prod(self.input_shape) * 4
        budget = self.memory_budget()
        self.mapped = needed > budget
        if self.mapped:
            x = self._mapped(order, int(bounds[1]), needed, budget)
        else:
            x = np.empty((len(order), *self.input_shape), dtype=np.float32)
            self._keep(self._fill(x, order, int(bounds[1])))
        labels = self.ids[order]
        splits = {}
        for i, name in enumerate(("train", "val", "test")):
            rows = slice(int(bounds[i]), int(bounds[i + 1]))
            split_x = mapped_tensor(x[rows]) if self.mapped else torch.from_numpy(x[rows])
            splits[name] = {"x": split_x, "label": torch.from_numpy(labels[rows])}
        return splits

    def _keep(self, filled: Filled) -> None:
        self.mean, self.std, self._range = filled.mean, filled.std, filled.value_range

    def _fill(self, out: np.ndarray, order: np.ndarray, train: int) -> Filled:
        """Rows `order` of the file into `out` (float32, in that order), standardised with the
        statistics of its first `train` rows; reads the file in chunks, twice if standardising."""
        inputs = math.prod(self.input_shape)
        flat = out.reshape(len(out), inputs)
        rows = self.entry.read()
        place = np.full(self.rows, -1, dtype=np.int64)  # each file row's position in `out`
        place[order] = np.arange(len(order))
        step = max(1, CHUNK_VALUES // inputs)
        mean, std = np.asarray(0.0), np.asarray(1.0)
        if self.standardize != "none":
            moments = Moments(inputs)
            for start in range(0, self.rows, step):
                where = place[start : start + step]
                keep = (where >= 0) & (where < train)
                if keep.any():
                    chunk = read_rows(rows, start, start + len(where))[keep]
                    chunk = chunk.reshape(len(chunk), inputs).astype(np.float64)
                    self._check_finite(chunk, start + np.flatnonzero(keep))
                    moments.add(chunk)
                    del chunk
            mean, std = moments.standardisation(self.standardize)
        low, high = math.inf, -math.inf
        for start in range(0, self.rows, step):
            where = place[start : start + step]
            keep = where >= 0
            if not keep.any():
                continue
            chunk = read_rows(rows, start, start + len(where))[keep].reshape(-1, inputs)
            if self.standardize != "none":
                scaled = chunk.astype(np.float64)
                scaled -= mean
                scaled /= std
                values = scaled.astype(np.float32)
                del scaled
            else:
                values = chunk.astype(np.float32)
            del chunk
            self._check_finite(values, start + np.flatnonzero(keep))
            flat[where[keep]] = values
            trained = values[where[keep] < train]
            if len(trained):
                low, high = min(low, float(trained.min())), max(high, float(trained.max()))
        return Filled(mean, std, (low, high))

    def _check_finite(self, values: np.ndarray, rows: np.ndarray) -> None:
        bad = ~np.isfinite(values)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise file_error(
                "data.path",
                self.path,
                f"row {int(rows[row])} holds a non-finite value (NaN or inf, as float32) at "
                f"input {int(column)}, and maybe more rows do",
                "drop or replace them (e.g. np.nan_to_num) and save the file again",
            )

    # --- the memory-mapped cache ----------------------------------------------------------------
    def fingerprint(self) -> str:
        """What the cached rows depend on: the files (path, size, time) and the settings."""
        content = {
            "version": CACHE_VERSION,
            "data": file_stat(self.path),
            "labels": file_stat(self.labels_path),
            "entry": self.entry.name,
            "shape": list(self.input_shape),
            "seed": self.seed,
            **{k: self.settings[k] for k in ("labels_key", "class_names", "classes")},
            **{k: self.settings[k] for k in ("train_size", "val_size", "test_size", "standardize")},
        }
        return fingerprint(content)

    def _mapped(self, order: np.ndarray, train: int, needed: int, budget: int) -> np.memmap:
        """The rows in split order from the cache file, mapped (written first if missing)."""
        if not self.entry.streams:
            raise file_error(
                "data.path",
                self.path,
                f"its splits need {size_text(needed)} as float32, more than data.in_memory_limit "
                f"({size_text(budget)}), and a {self.path.suffix} file is read whole",
                "save the array with np.save as .npy (read in chunks) or raise "
                "data.in_memory_limit",
            )
        key = self.fingerprint()
        stem = cache_stem("array", self.path.stem, self.path)
        x_path = cache_path(self.cache_dir, stem, key, ".npy")
        meta_path = x_path.with_suffix(".npz")
        shape = (len(order), *self.input_shape)
        cached = self._cached(x_path, meta_path, key, shape)
        if cached is not None:
            return cached
        log.info(
            "data: %s needs %s as float32, more than data.in_memory_limit (%s): writing the "
            "splits to %s and mapping them",
            self.path,
            size_text(needed),
            size_text(budget),
            x_path,
        )
        try:
            x, filled = write_mapped(x_path, shape, lambda out: self._fill(out, order, train))
        except OSError as error:
            raise self._cache_error(error) from None
        self._keep(filled)
        with atomic_open(meta_path, "wb") as handle:
            np.savez(
                handle,
                fingerprint=key,
                mean=self.mean,
                std=self.std,
                value_range=np.asarray(self._range),
            )
        remove_older(x_path, meta_path)
        return x

    def _cached(self, x_path: Path, meta_path: Path, key: str, shape: tuple) -> np.memmap | None:
        if not (x_path.is_file() and meta_path.is_file()):
            return None
        try:
            with np.load(meta_path, allow_pickle=False) as meta:
                if str(meta["fingerprint"]) != key:
                    return None
                filled = Filled(
                    meta["mean"], meta["std"], tuple(float(v) for v in meta["value_range"])
                )
            x = np.load(x_path, mmap_mode="c", allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - an unreadable cache is written again
            log.warning("ignoring the unreadable cache %s (%s)", x_path, first_line(error))
            return None
        if x.shape != shape or x.dtype != np.float32:
            return None
        self._keep(filled)
        return x

    def _cache_error(self, error: OSError) -> ConfigError:
        return violation(
            "data.cache_dir",
            f"a writable folder with room for the float32 splits of {self.path.name} "
            f"({first_line(error)})",
            repr(str(self.cache_dir)),
            "/scratch/aelab-cache",
        )
