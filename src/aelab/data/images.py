"""A folder of images as an in-memory DataModule: C x H x W images with pixels in [0, 1].

``data.path`` holds the images either directly (one class, named after the folder) or in one
sub-folder per class (class names are the sub-folder names, sorted, as torchvision's
``ImageFolder`` has them; images further down a class folder belong to it). Images directly in
the folder beside class folders are refused; hidden files and folders (``.name``) and sub-folders
without images are skipped. Files count as images by their extension (`EXTENSIONS`, any case).

Each image is decoded once with Pillow, turned grey (``channels=1``) or RGB (``channels=3``),
transparent pixels laid on black, and brought to ``size`` by ``fit``: ``resize`` stretches the
whole image to H x W, ``crop`` scales it to cover H x W and cuts the centre. The decoded uint8
images are cached in ``cache_dir``, keyed by the file list (paths, sizes, modification times)
and the decoding options: a later run loads them, a changed file decodes the folder again.

Validation and test images are drawn per class (stratified), seeded by ``data.seed``;
``val_size`` and ``test_size`` are counts (>= 1) or fractions of all images (in (0, 1)).
``classes`` keeps only the listed classes in train and val (one-class runs; test keeps all).
"""

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aelab.data.base import (
    FLOAT_BYTES,
    LABEL_BYTES,
    InMemoryDataModule,
    NameList,
    Split,
    held_out_count,
    held_out_counts,
    held_out_type,
    image_sample_bytes,
    loader_keys,
)
from aelab.data.cache import cache_path, cache_stem, fingerprint, load_cache, save_cache
from aelab.errors import ConfigError
from aelab.schema.keys import Context, Key, Target
from aelab.schema.memory import available_memory, gib
from aelab.schema.message import override_text, violation
from aelab.schema.types import Choice, Text, ValueType, is_integer

log = logging.getLogger(__name__)

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
FITS = ("resize", "crop")
CACHE_VERSION = 1  # bump when the decoding changes: older caches are then ignored
PROGRESS_FROM = 2000  # images from which decoding reports its progress
PROGRESS_EVERY_S = 5.0
EXAMPLE_PATH = "path/to/images"


# --- the config keys' types -------------------------------------------------------------------
class ImageSize(ValueType):
    """A positive integer (square images) or a list [H, W] of two."""

    phrase = "a positive integer or a list [height, width] of two"

    def fits(self, value: Any) -> bool:
        if isinstance(value, list | tuple):
            return len(value) == 2 and all(is_integer(v) and v > 0 for v in value)
        return is_integer(value) and value > 0


def plain(value: Any) -> Any:
    """An OmegaConf list (instantiated without ``_convert_``) as a plain list."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def image_size(size: int | list[int]) -> tuple[int, int]:
    """(H, W) of ``data.size``."""
    return (size, size) if is_integer(size) else (int(size[0]), int(size[1]))


# --- the folder --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Folder:
    """The images of a folder: paths relative to `root`, their class ids, sizes and mtimes."""

    root: Path
    classes: list[str]
    files: list[str]  # posix paths relative to root, sorted by class then path
    labels: list[int]
    stats: list[tuple[int, int]]  # (bytes, mtime_ns) per file


def is_image(name: str) -> bool:
    return name.lower().endswith(EXTENSIONS) and not name.startswith(".")


def folder_path(path: str | None) -> Path:
    """``data.path`` as an existing folder (relative paths from where aelab is started)."""
    if path is None or str(path).strip() == "":
        got = "null" if path is None else repr(path)
        raise violation("data.path", "set to a folder of images", got, EXAMPLE_PATH)
    root = Path(path).expanduser().resolve()
    if root.is_file():
        raise violation(
            "data.path", "a folder of images, not a file", repr(str(path)), str(root.parent)
        )
    if not root.is_dir():
        raise violation(
            "data.path", "an existing folder of images", f"{str(path)!r} (not found)", EXAMPLE_PATH
        )
    return root


def images_under(folder: Path, root: Path) -> list[tuple[str, int, int]]:
    """Image files anywhere under `folder` (hidden ones skipped): (path from root, bytes, mtime)."""
    found = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if is_image(name):
                path = Path(current) / name
                stat = path.stat()
                found.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return found


def scan(path: str | None) -> Folder:
    """The images of ``data.path``: flat (one class) or one sub-folder per class."""
    root = folder_path(path)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
        entries = [e for e in entries if not e.name.startswith(".")]
    except OSError as error:
        raise ConfigError(
            f"cannot read the folder {root}: {error.strerror}; check data.path"
        ) from None
    loose = [e.name for e in entries if e.is_file() and is_image(e.name)]
    classes, files, labels = [], [], []
    for entry in (e for e in entries if e.is_dir()):
        found = images_under(Path(entry.path), root)
        if not found:
            log.info("skipping %s: no images in it", entry.path)
            continue
        if loose:
            raise ConfigError(
                f"{root} holds {len(loose)} image(s) (e.g. {loose[0]}) beside class folders "
                f"(e.g. {entry.name}); move them into a class folder, or out of {root}"
            )
        files += found
        labels += [len(classes)] * len(found)
        classes.append(entry.name)
    if not classes:  # flat: one class, named after the folder
        files = [(n, (root / n).stat().st_size, (root / n).stat().st_mtime_ns) for n in loose]
        labels = [0] * len(files)
        classes = [root.name or "all"]
    if not files:
        raise ConfigError(
            f"no images in {root} (looked for {', '.join(EXTENSIONS)}, any case, in it or in one "
            "sub-folder per class); point data.path at a folder of images"
        )
    return Folder(
        root,
        classes,
        [f[0] for f in files],
        labels,
        [(f[1], f[2]) for f in files],
    )


# --- decoding ----------------------------------------------------------------------------------
def decode(path: Path, size: tuple[int, int], fit: str, channels: int) -> np.ndarray:
    """One image as a (C, H, W) uint8 array; `ConfigError` naming the file when it cannot be."""
    from PIL import Image, ImageOps

    height, width = size
    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as image:
            image.draft(mode, (max(size), max(size)))  # JPEG: decode at a reduced scale
            image = ImageOps.exif_transpose(image)
            if image.mode.startswith("I;16"):  # 16-bit grey: keep the high byte
                image = Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")  # transparent pixels on black
                image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
            image = image.convert(mode)
            if fit == "crop":
                image = ImageOps.fit(image, (width, height), Image.Resampling.BILINEAR)
            else:
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as error:  # noqa: BLE001 - Pillow raises many types for a bad file
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ConfigError(
            f"cannot decode the image {path} ({reason}); replace or remove the file"
        ) from None
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def decode_all(folder: Folder, size: tuple[int, int], fit: str, channels: int) -> np.ndarray:
    """Every image of `folder` as one (N, C, H, W) uint8 array, on a few threads."""
    from aelab.threads import available_cores

    total = len(folder.files)
    images = np.empty((total, channels, *size), dtype=np.uint8)
    loud = total >= PROGRESS_FROM
    if loud:
        log.info("decoding %d images of %s (once; later runs read the cache)", total, folder.root)
    started = last = time.monotonic()

    def one(index: int) -> None:
        images[index] = decode(folder.root / folder.files[index], size, fit, channels)

    workers = min(8, available_cores()) if total >= 64 else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(one, range(total)), start=1):
            if loud and time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                log.info("decoded %d / %d images (%.0f s)", done, total, last - started)
    if loud:
        log.info("decoded %d images in %.0f s", total, time.monotonic() - started)
    return images


# --- the cache ---------------------------------------------------------------------------------
def folder_fingerprint(folder: Folder, size: tuple[int, int], fit: str, channels: int) -> str:
    """What the decoded images depend on: the files (paths, bytes, mtimes) and the options."""
    return fingerprint(
        {
            "version": CACHE_VERSION,
            "size": list(size),
            "fit": fit,
            "channels": channels,
            "classes": folder.classes,
            "files": [
                [f, *s, label]
                for f, s, label in zip(folder.files, folder.stats, folder.labels, strict=True)
            ],
        }
    )


# --- the splits --------------------------------------------------------------------------------
def quotas(available: np.ndarray, count: int) -> np.ndarray:
    """`count` spread over classes in proportion to `available` (largest remainders)."""
    share = count * available / max(available.sum(), 1)
    quota = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - quota), kind="stable")
    quota[order[: count - quota.sum()]] += 1
    return quota


def stratified_split(labels: np.ndarray, sizes: dict[str, int], seed: int) -> dict[str, np.ndarray]:
    """Indices per split, drawn per class in proportion to its images, in a seeded order."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    pools = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    left = np.array([len(pools[c]) for c in classes])
    parts = {}
    for name, count in sizes.items():
        quota = quotas(left, count)
        taken = []
        for i, c in enumerate(classes):
            start = len(pools[c]) - left[i]
            taken.append(pools[c][start : start + quota[i]])
        left -= quota
        parts[name] = rng.permutation(np.concatenate(taken))
    return parts


# --- the config schema's rule ------------------------------------------------------------------
def _folder_fits(ctx: Context) -> None:
    """With ``data.path`` set: the folder holds images, the classes and sizes fit, memory too."""
    values = ctx.groups.get("data", {})
    if values.get("path") is not None:
        ImageFolderDataModule(**values).plan()


class ImageFolderDataModule(InMemoryDataModule):
    """A folder of images; batches are dicts with ``x`` (N, C, H, W) in [0, 1] and ``label``."""

    SCHEMA = Target(
        keys=(
            Key("path", Text(), EXAMPLE_PATH, nullable=True, note="(a folder of images)"),
            Key("size", ImageSize(), [32, 32]),
            Key("fit", Choice(FITS), "resize"),
            Key("channels", Choice((1, 3)), 3, note="(1: grey, 3: RGB)"),
            Key("cache_dir", Text(), "data/cache"),
            Key("train_size", held_out_type("null: the rest", "all images"), 0.8, nullable=True),
            Key("val_size", held_out_type("validation", "all images"), 0.1),
            Key("test_size", held_out_type("test", "all images"), 0.1),
            Key(
                "classes",
                NameList("a non-empty list of class names (sub-folder names of data.path)"),
                ["normal"],
                nullable=True,
            ),
            *loader_keys(128),
        ),
        rules=(_folder_fits,),
        sample_bytes=image_sample_bytes,
    )

    def __init__(
        self,
        path: str | None = None,
        size: int | list[int] = (32, 32),
        fit: str = "resize",
        channels: int = 3,
        cache_dir: str = "data/cache",
        train_size: int | float | None = None,
        val_size: int | float = 0.1,
        test_size: int | float = 0.1,
        classes: list[str] | None = None,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        seed: int = 1234,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, eval_batch_size=eval_batch_size)
        size, classes = plain(size), plain(classes)
        given = {k: v for k, v in locals().items() if k in self.SCHEMA.by_name}
        self.SCHEMA.check_values("data", given)
        self.path = path
        self.size = image_size(size)
        self.fit = fit
        self.channels = channels
        self.render = "rgb" if channels == 3 else "gray"  # how figures picture a sample
        self.cache_dir = Path(cache_dir).expanduser().resolve()
        self.sizes = {"val": val_size, "test": test_size, "train": train_size}
        self.classes = None if classes is None else [str(c) for c in classes]
        self._folder: Folder | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, *self.size)

    @property
    def class_names(self) -> list[str]:
        return self.folder.classes

    @property
    def value_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def trained_classes(self) -> list[int]:
        """The classes of the training split: ``classes`` when set, else all."""
        if self.classes is None:
            return list(range(len(self.class_names)))
        return sorted(self.class_names.index(c) for c in self.classes)

    @property
    def folder(self) -> Folder:
        if self._folder is None:
            self._folder = scan(self.path)
        return self._folder

    # --- before decoding -------------------------------------------------------------------------
    def split_counts(self, total: int) -> dict[str, int]:
        """Images per split, checked against the `total` in the folder."""
        val, test = held_out_counts(
            self.sizes["val"], self.sizes["test"], total, f"images of {self.folder.root}"
        )
        rest = total - val - test
        train = self.sizes["train"]
        train = rest if train is None else held_out_count(train, total)
        if train > rest:
            raise violation(
                "data.train_size",
                f"at most the {rest} images left after validation and test, or null",
                override_text(self.sizes["train"]),
                None,
            )
        return {"val": val, "test": test, "train": train}

    def plan(self) -> tuple[Folder, dict[str, np.ndarray]]:
        """The folder's images and the indices of each split, checked before any decoding:
        the classes, the split sizes and the memory the decoded images need."""
        folder = self.folder
        unknown = [c for c in self.classes or [] if c not in folder.classes]
        if unknown:
            raise violation(
                "data.classes",
                f"classes of {folder.root} ({', '.join(folder.classes)})",
                f"unknown class {unknown[0]!r}",
                folder.classes[:1],
            )
        labels = np.asarray(folder.labels, dtype=np.int64)
        parts = stratified_split(labels, self.split_counts(len(labels)), self.seed)
        if self.classes is not None:  # one-class runs: only these classes to learn from
            keep = [folder.classes.index(c) for c in self.classes]
            chosen = override_text(self.classes)
            for name in ("train", "val"):
                parts[name] = parts[name][np.isin(labels[parts[name]], keep)]
                if len(parts[name]) == 0:
                    raise violation(
                        f"data.{name}_size",
                        f"large enough to hold images of data.classes={chosen}",
                        override_text(self.sizes[name]),
                        0.2,
                    )
        total, pixels = len(labels), self.input_dim
        needed = total * (pixels + FLOAT_BYTES * pixels + LABEL_BYTES)  # decoded + float splits
        available = available_memory()
        if needed > available:
            raise ConfigError(
                f"the {total:,} images of {folder.root} need about {gib(needed)} in memory at "
                f"{' x '.join(map(str, self.input_shape))} ({gib(available)} available); lower "
                "data.size (e.g. data.size=[32,32]), set data.channels=1, or use fewer images"
            )
        return folder, parts

    # --- the splits ------------------------------------------------------------------------------
    def decoded(self, folder: Folder) -> dict[str, torch.Tensor]:
        """Every image of `folder` as uint8 ``x`` with its ``label``: from the cache, or decoded."""
        key = folder_fingerprint(folder, self.size, self.fit, self.channels)
        stem = cache_stem(
            "images", folder.root.name, folder.root, self.size, self.fit, self.channels
        )
        path = cache_path(self.cache_dir, stem, key)
        cached = load_cache(path, key, "image")
        if cached is not None:
            return cached
        images = {
            "x": torch.from_numpy(decode_all(folder, self.size, self.fit, self.channels)),
            "label": torch.tensor(folder.labels, dtype=torch.int64),
        }
        save_cache(path, key, images, "image")
        return images

    def build_splits(self) -> dict[str, Split]:
        folder, parts = self.plan()
        images = self.decoded(folder)
        splits = {}
        for name in ("train", "val", "test"):
            index = torch.from_numpy(parts[name])
            splits[name] = {
                "x": images["x"][index].float() / 255.0,
                "label": images["label"][index],
            }
        return splits
