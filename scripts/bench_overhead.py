"""Framework overhead: aelab's Lightning training epoch vs a hand-written PyTorch loop.

Same model (MLP AE 784-512-256-16), same data (MNIST t10k train carve if the files are there,
else random MNIST-shaped data), same batch size (256), CPU. The two are interleaved, round after
round, so machine noise hits both alike; the figure is the ratio of median epoch times.

    .venv/bin/python scripts/bench_overhead.py [--rounds 5] [--epochs 3] [--mnist DIR]
"""

import argparse
import statistics
import time
from pathlib import Path

import lightning as L
import torch

from aelab.data.base import InMemoryDataModule
from aelab.models.mlp import MLPAutoencoder

DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def load_images(mnist_dir: Path, n: int = 8000) -> torch.Tensor:
    from aelab.data.mnist import MNISTDataModule

    if (mnist_dir / "t10k-images-idx3-ubyte.gz").is_file():
        dm = MNISTDataModule(data_dir=str(mnist_dir), split="t10k", download=False)
        dm.setup()
        print(f"data: MNIST t10k train carve from {mnist_dir}")
        return dm.split("train")["x"][:n]
    print("data: random MNIST-shaped images (no MNIST files found)")
    return torch.rand(n, 1, 28, 28)


class FixedData(InMemoryDataModule):
    """The benchmark's tensors behind aelab's batching."""

    def __init__(self, x: torch.Tensor, batch_size: int) -> None:
        super().__init__(batch_size=batch_size, seed=0)
        self.x = x

    @property
    def input_shape(self):
        return tuple(self.x.shape[1:])

    @property
    def class_names(self):
        return ["all"]

    @property
    def value_range(self):
        return (0.0, 1.0)

    def build_splits(self):
        zeros = torch.zeros(len(self.x), dtype=torch.long)
        val = slice(0, 1000)
        return {
            "train": {"x": self.x, "label": zeros},
            "val": {"x": self.x[val], "label": zeros[val]},
            "test": {"x": self.x[val], "label": zeros[val]},
        }


def make_model(seed: int = 0) -> MLPAutoencoder:
    torch.manual_seed(seed)
    return MLPAutoencoder([1, 28, 28], 16, hidden_sizes=[512, 256], output_activation="sigmoid")


def hand_written_epochs(x: torch.Tensor, epochs: int, batch_size: int) -> list[float]:
    model = make_model().to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch)).to(x.device)
        for i in range(0, len(x), batch_size):
            batch = x[order[i : i + batch_size]]
            loss = ((model(batch) - batch) ** 2).flatten(1).sum(1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


class EpochTimer(L.Callback):
    """Training time of each epoch (its batches), and the whole epoch with validation."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.whole: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.device.type == "cuda" and batch_idx == trainer.num_training_batches - 1:
            torch.cuda.synchronize()
        self._last_batch_end = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        self.times.append(self._last_batch_end - self._start)
        self.whole.append(time.perf_counter() - self._start)


def lightning_epochs(
    x: torch.Tensor, epochs: int, batch_size: int, tmp: Path
) -> tuple[list[float], list[float]]:
    """aelab-train's set-up: its callbacks and logger, validation each epoch (timed apart)."""
    from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
    from lightning.pytorch.loggers import TensorBoardLogger

    from aelab.callbacks.guard import NonFiniteGuard
    from aelab.callbacks.images import ReconstructionImages

    timer = EpochTimer()
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="gpu" if x.device.type == "cuda" else "cpu",
        devices=1,
        logger=TensorBoardLogger(tmp, name="tb", default_hp_metric=False),
        callbacks=[
            timer,
            NonFiniteGuard(),
            ReconstructionImages(),
            ModelCheckpoint(dirpath=tmp / "ckpt", monitor="val/mse", save_last=True),
            RichProgressBar(refresh_rate=10),
        ],
        enable_model_summary=False,
        log_every_n_steps=50,
    )
    trainer.fit(make_model(), datamodule=FixedData(x, batch_size))
    return timer.times, timer.whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (data resident there)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import logging
    import tempfile
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    x = load_images(args.mnist).to(args.device)
    print(
        f"device: {x.device}, torch threads: {torch.get_num_threads()}, samples: {len(x)}, batch: {args.batch_size}"
    )
    hand, framework, whole = [], [], []
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            hand += hand_written_epochs(x, args.epochs, args.batch_size)[1:]  # first epoch warms up
            batches, epochs = lightning_epochs(x, args.epochs, args.batch_size, Path(tmp))
            framework += batches[1:]
            whole += epochs[1:]
        print(
            f"round {round_ + 1}: hand-written {statistics.median(hand) * 1e3:.1f} ms/epoch, "
            f"aelab (Lightning) {statistics.median(framework) * 1e3:.1f} ms/epoch "
            f"({statistics.median(whole) * 1e3:.1f} ms with validation and checkpoints)"
        )
    ratio = statistics.median(framework) / statistics.median(hand)
    print(f"framework overhead ratio (median epoch, aelab / hand-written): {ratio:.3f}")
    full = statistics.median(whole) / statistics.median(hand)
    print(f"whole aelab epoch incl. validation and checkpoints / hand-written training: {full:.3f}")


if __name__ == "__main__":
    main()
