"""A cache of decoded or converted data: tensors in one ``.pt`` file, keyed by what they came from.

A cache file is ``<cache_dir>/<stem>-<key[:16]>.pt``. The stem names the source and the options
that shape the data (`cache_stem`); the key (`fingerprint`) is a hash of everything the content
depends on (files' paths, sizes and modification times, options, a version). A file is read only
when its stored key matches; writing is atomic, and a new file removes the older ones of its stem,
so a changed source leaves one cache behind, not one per change. Failures to read or write only
log: the data are decoded again.
"""

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import torch

from aelab.runs.atomic import atomic_open

log = logging.getLogger(__name__)


def file_stat(path: Path) -> list[Any]:
    """What identifies a file's content cheaply: its path, size and modification time."""
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


def cache_path(cache_dir: Path, stem: str, key: str) -> Path:
    return cache_dir / f"{stem}-{key[:16]}.pt"


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
    stem = path.name.rsplit("-", 1)[0]
    for old in path.parent.glob(f"{stem}-*.pt"):
        if old != path:
            old.unlink(missing_ok=True)
