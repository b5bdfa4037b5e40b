"""A cache of decoded or converted data, keyed by what it came from.

Tensors go in one ``.pt`` file (`save_cache`, `load_cache`); rows too large for memory go in a
float32 ``.npy`` that is mapped, not loaded (`write_mapped`, used by data=array). A cache file is
``<cache_dir>/<stem>-<key[:16]>.<suffix>``. The stem names the source and the options
that shape the data (`cache_stem`); the key (`fingerprint`) is a hash of everything the content
depends on (files' paths, sizes and modification times, options, a version). A file is read only
when its stored key matches; writing is atomic, and a new file removes the older ones of its stem,
so a changed source leaves one cache behind, not one per change. Failures to read or write only
log: the data are decoded again.
"""

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from aelab.runs.atomic import atomic_open

T = TypeVar("T")

log = logging.getLogger(__name__)


def file_stat(path: Path | None) -> list[Any] | None:
    """What identifies a file's content cheaply: its path, size and modification time."""
    if path is None:
        return None
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def fingerprint(content: dict[str, Any]) -> str:
    """A hash of `content` (JSON-serialisable, numbers and text)."""
    return hashlib.sha256(json.dumps(content, default=str).encode()).hexdigest()


def cache_stem(kind: str, name: str, *options: Any) -> str:
    """``<kind>-<name>-<hash of the options>``: one stem per source location and options."""
    safe = re.sub(r"[^\w.-]+", "_", name or "root")[:40]
    where = hashlib.sha256("|".join(map(str, options)).encode()).hexdigest()[:10]
    return f"{kind}-{safe}-{where}"


def cache_path(cache_dir: Path, stem: str, key: str, suffix: str = ".pt") -> Path:
    return cache_dir / f"{stem}-{key[:16]}{suffix}"


def remove_older(path: Path, *companions: Path) -> None:
    """Remove the other caches of `path`'s stem (and not its `companions`): one per source."""
    stem = path.name.rsplit("-", 1)[0]
    for old in path.parent.glob(f"{stem}-*"):
        if old != path and old not in companions:
            old.unlink(missing_ok=True)


def load_cache(path: Path, key: str, what: str) -> dict[str, torch.Tensor] | None:
    """The cached tensors when `path` holds them for `key`, else None (`what`: for the log)."""
    if not path.is_file():
        return None
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if cached.get("fingerprint") == key:
            return {k: v for k, v in cached.items() if k != "fingerprint"}
    except Exception as error:  # noqa: BLE001 - an unreadable cache is built again
        log.warning("ignoring the unreadable %s cache %s (%s)", what, path, error)
    return None


def save_cache(path: Path, key: str, tensors: dict[str, torch.Tensor], what: str) -> None:
    """Write the cache atomically and remove the older caches of its stem; failures only log."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as handle:
            torch.save({"fingerprint": key, **tensors}, handle)
    except OSError as error:
        log.warning(
            "could not write the %s cache %s (%s); building it again next time", what, path, error
        )
        return
    remove_older(path)


def write_mapped(
    path: Path, shape: tuple[int, ...], fill: Callable[[np.ndarray], T]
) -> tuple[np.ndarray, T]:
    """Write a float32 ``.npy`` of `shape` at `path`, filled in place by `fill`, atomically.

    The file is claimed on disk first (a full disk raises `OSError`, it does not crash the mapped
    writes), filled under a temporary name and renamed when complete. Returns it mapped
    copy-on-write and what `fill` returned. `OSError` propagates: the caller names the folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)  # the mode a plain open() gives, not mkstemp's 0600
    os.close(handle)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        if hasattr(os, "posix_fallocate"):
            with open(tmp, "r+b") as file:
                os.posix_fallocate(file.fileno(), 0, os.path.getsize(tmp))
        result = fill(out)
        out.flush()
        del out
        mapped = np.load(tmp, mmap_mode="c", allow_pickle=False)  # mapped before it is renamed
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return mapped, result
