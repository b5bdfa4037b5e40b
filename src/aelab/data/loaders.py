"""In-memory batching: slices of tensors in a seeded per-epoch permutation.

The datasets fit in memory, so a `DataLoader` collating sample by sample costs more than the
model on small nets. `TensorBatches` keeps each split as a dict of tensors (moved once to the
training device) and yields dict slices; under data parallelism each rank takes its own shard.

A split too large for memory is a tensor over a memory-mapped file (`mapped_tensor`): it stays
where it is, on the CPU, and each batch gathers only its own rows from the file (the DataModule
then moves the batch to the device). `is_mapped` tells such tensors apart, so whatever reads a
whole split (`aelab.metrics.pca`) reads it in chunks.
"""

import weakref
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

_MAPPED: dict[int, tuple[int, int]] = {}  # id of a memory map -> its address range [start, end)


def mapped_tensor(array: np.ndarray) -> Tensor:
    """A tensor over `array`, a view of a ``np.memmap``, without a copy; `is_mapped` knows it.

    The whole map is registered for as long as it lives (the tensor keeps it alive).
    """
    base = array
    while not isinstance(base, np.memmap) and isinstance(base.base, np.ndarray):
        base = base.base
    if not isinstance(base, np.memmap):
        raise TypeError("mapped_tensor needs a view of a np.memmap")
    if id(base) not in _MAPPED:
        start = base.ctypes.data
        _MAPPED[id(base)] = (start, start + base.nbytes)
        weakref.finalize(base, _MAPPED.pop, id(base), None)
    return torch.from_numpy(array)


def is_mapped(tensor: Tensor) -> bool:
    """Whether `tensor` lies in a memory map of `mapped_tensor` (reading it whole reads a file)."""
    if tensor.device.type != "cpu" or not _MAPPED or tensor.numel() == 0:
        return False
    address = tensor.data_ptr()
    return any(start <= address < end for start, end in list(_MAPPED.values()))


class TensorBatches:
    """An iterable of `dict[str, Tensor]` batches over equally long tensors."""

    def __init__(
        self,
        tensors: dict[str, Tensor],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        epoch: Callable[[], int] = lambda: 0,
        device: torch.device | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        lengths = {len(t) for t in tensors.values()}
        if len(lengths) != 1:
            raise ValueError(
                f"tensors differ in length: { {k: len(t) for k, t in tensors.items()} }"
            )
        self.tensors = tensors
        self.num_samples = lengths.pop()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.device = device
        self.rank = rank
        self.world_size = world_size

    @property
    def samples_per_rank(self) -> int:
        return -(-self.num_samples // self.world_size)  # ceil: every rank gets as many

    def __len__(self) -> int:
        n = self.samples_per_rank
        return -(-n // self.batch_size)  # the last batch may be smaller

    def _move_to_device(self) -> None:
        """Move the splits to the device once; memory-mapped ones stay (batches move alone)."""
        if self.device is not None and not any(is_mapped(t) for t in self.tensors.values()):
            self.tensors = {k: t.to(self.device) for k, t in self.tensors.items()}
        self.device = None

    def _indices(self) -> Tensor | None:
        """This rank's sample order for the current epoch; None means 0..N-1 in order."""
        if not self.shuffle and self.world_size == 1:
            return None
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch())
            order = torch.randperm(self.num_samples, generator=generator)
        else:
            order = torch.arange(self.num_samples)
        padded = self.samples_per_rank * self.world_size
        if padded > self.num_samples:  # wrap around so that every rank has the same length
            order = torch.cat([order, order[: padded - self.num_samples]])
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        self._move_to_device()
        indices = self._indices()
        if indices is not None:
            indices = indices.to(next(iter(self.tensors.values())).device)
        for batch in range(len(self)):
            start, stop = batch * self.batch_size, (batch + 1) * self.batch_size
            if indices is None:
                yield {k: t[start:stop] for k, t in self.tensors.items()}
            else:
                index = indices[start:stop]
                yield {k: t[index] for k, t in self.tensors.items()}
