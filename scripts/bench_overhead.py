"""Framework overhead: aelab's Lightning training epoch vs a hand-written PyTorch loop.

Same model (MLP AE 784-512-256-16), same data (MNIST t10k train carve if the files are there,
else random MNIST-shaped data), same batch size (256), CPU. aelab's side is the Trainer that
`aelab-train` builds from its config (callbacks, logger, checkpointing, validation each epoch).
The two alternate epoch by epoch, so machine noise hits both alike; each pair gives a ratio, and
the figure is the median of those ratios (the first epoch of each round warms up and is dropped).

    .venv/bin/python scripts/bench_overhead.py [--rounds 3] [--epochs 6] [--mnist DIR] [--json PATH]
        [--held-out 1000]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import lightning as L
import torch

from aelab.data.base import InMemoryDataModule
from aelab.models.mlp import MLPAutoencoder

DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def load_images(mnist_dir: Path, n: int = 8000, held_out: int = 1000) -> tuple[torch.Tensor, str]:
    """The images and a few words saying what they are (`held_out`: MNIST's val and test sizes)."""
    from aelab.data.mnist import MNISTDataModule

    if (mnist_dir / "t10k-images-idx3-ubyte.gz").is_file():
        dm = MNISTDataModule(
            data_dir=str(mnist_dir),
            split="t10k",
            download=False,
            val_size=held_out,
            test_size=held_out,
        )
        dm.setup()
        print(f"data: MNIST t10k train carve from {mnist_dir}")
        return dm.split("train")["x"][:n], "MNIST t10k"
    print("data: random MNIST-shaped images (no MNIST files found)")
    return torch.rand(n, 1, 28, 28), "random MNIST-shaped images"


def quartiles(values: list[float]) -> tuple[float, float]:
    """First and third quartile (the value itself when there is only one)."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


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
    return MLPAutoencoder(
        [1, 28, 28],
        16,
        hidden_sizes=[512, 256],
        output_activation="sigmoid",
        linear_path=False,  # the hand-written loop has no PCA start
        lr=1e-3,  # and a constant learning rate of 1e-3
        scheduler="none",
    )


class HandWrittenLoop:
    """The same model, data, batch size and optimiser, trained by a plain PyTorch loop."""

    def __init__(self, x: torch.Tensor, batch_size: int) -> None:
        self.x, self.batch_size = x, batch_size
        self.model = make_model().to(x.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.epochs_run = 0

    def epoch(self) -> float:
        """Train one epoch; returns its wall seconds."""
        x, model, optimizer = self.x, self.model, self.optimizer
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(self.epochs_run)
        order = torch.randperm(len(x), generator=generator).to(x.device)
        for i in range(0, len(x), self.batch_size):
            batch = x[order[i : i + self.batch_size]]
            loss = ((model(batch) - batch) ** 2).flatten(1).sum(1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        self.epochs_run += 1
        return time.perf_counter() - start


class PairedEpochTimer(L.Callback):
    """Before each aelab epoch, one hand-written epoch; then the aelab epoch's own times.

    Pairing epoch by epoch puts the two measurements seconds apart, so that the machine's
    slower and faster spells hit both alike.
    """

    def __init__(self, hand_written: HandWrittenLoop) -> None:
        self.hand_written = hand_written
        self.hand: list[float] = []  # hand-written epoch
        self.batches: list[float] = []  # aelab: first batch start to last batch end
        self.whole: list[float] = []  # aelab: the epoch with validation, images, checkpoints

    def on_train_epoch_start(self, trainer, module) -> None:
        self.hand.append(self.hand_written.epoch())
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.device.type == "cuda" and batch_idx == trainer.num_training_batches - 1:
            torch.cuda.synchronize()
        self._last_batch_end = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:  # after validation and checkpoints
        self.batches.append(self._last_batch_end - self._start)
        self.whole.append(time.perf_counter() - self._start)


def aelab_trainer(tmp: Path, epochs: int, device: str, timer: L.Callback) -> L.Trainer:
    """The Trainer `aelab-train` builds from its config (`aelab.train.build_trainer`), under tmp.

    Building it also turns off Lightning's per-step NVML probe where there is no NVIDIA driver;
    the hand-written loop runs in the same process and gains as much.
    """
    from hydra import compose, initialize_config_dir

    from aelab.config import CONFIG_DIR
    from aelab.train import build_trainer

    overrides = [
        f"paths.output_dir={tmp}",
        f"trainer.max_epochs={epochs}",
        f"accelerator={'gpu' if device == 'cuda' else 'cpu'}",
    ]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    return build_trainer(cfg, [timer])


def paired_epochs(x: torch.Tensor, epochs: int, batch_size: int, tmp: Path) -> PairedEpochTimer:
    """One aelab fit of `epochs` epochs, each preceded by a hand-written epoch."""
    timer = PairedEpochTimer(HandWrittenLoop(x, batch_size))
    trainer = aelab_trainer(tmp, epochs, x.device.type, timer)
    trainer.fit(make_model(), datamodule=FixedData(x, batch_size))
    return timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (data resident there)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--held-out", type=int, default=1000, help="MNIST val and test sizes")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import logging
    import tempfile
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    x, data = load_images(args.mnist, held_out=args.held_out)
    x = x.to(args.device)
    print(
        f"device: {x.device}, torch threads: {torch.get_num_threads()}, samples: {len(x)}, batch: {args.batch_size}"
    )
    ratios, whole_ratios, extra_ms, rounds = [], [], [], []
    steps = -(-len(x) // args.batch_size)
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            timer = paired_epochs(x, args.epochs, args.batch_size, Path(tmp))
        pairs = list(zip(timer.hand, timer.batches, timer.whole, strict=True))[1:]  # warm-up
        ratios += [batches / hand for hand, batches, _ in pairs]
        whole_ratios += [whole / hand for hand, _, whole in pairs]
        extra_ms += [(batches - hand) / steps * 1e3 for hand, batches, _ in pairs]
        hand = statistics.median(p[0] for p in pairs)
        batches = statistics.median(p[1] for p in pairs)
        whole = statistics.median(p[2] for p in pairs)
        rounds.append({"hand_ms": hand * 1e3, "aelab_ms": batches * 1e3, "whole_ms": whole * 1e3})
        print(
            f"round {round_ + 1}: hand-written {hand * 1e3:.1f} ms/epoch, aelab {batches * 1e3:.1f}"
            f" ms/epoch ({whole * 1e3:.1f} ms with validation, images and checkpoints)"
        )
    low, high = quartiles(ratios)
    print(
        f"framework overhead ratio (aelab / hand-written training epoch, median of "
        f"{len(ratios)} paired epochs): {statistics.median(ratios):.3f}  "
        f"(quartiles {low:.3f}-{high:.3f})"
    )
    print(f"aelab's extra time per training step: {statistics.median(extra_ms):.2f} ms")
    whole_low, whole_high = quartiles(whole_ratios)
    print(
        "whole aelab epoch incl. validation, images and checkpoints / hand-written training: "
        f"{statistics.median(whole_ratios):.3f}  (quartiles {whole_low:.3f}-{whole_high:.3f})"
    )
    if args.json:
        report = {
            "data": data,
            "device": str(x.device),
            "torch_threads": torch.get_num_threads(),
            "samples": len(x),
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "epochs": args.epochs,
            "pairs": len(ratios),
            "ratio": statistics.median(ratios),
            "ratio_quartiles": [low, high],
            "extra_ms_per_step": statistics.median(extra_ms),
            "whole_ratio": statistics.median(whole_ratios),
            "whole_ratio_quartiles": [whole_low, whole_high],
            "per_round": rounds,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
