"""How fast the PCA-equivalent linear AE learns closed-form PCA on MNIST t10k.

For each latent size m, trains `model=linear` (variant=pca, random orthonormal start: learning,
not initialised from PCA) with aelab's defaults and reports the first epoch at which the test MSE
is within 0.5 % of the closed-form PCA bound, the seconds it took, and the closed-form
eigendecomposition time beside it. The cosine schedule anneals over `--max-epochs` (the epoch
budget, 10 by default): a shorter budget gets there sooner, until m=64 no longer makes it (8).

    .venv/bin/python scripts/bench_linear_convergence.py [--mnist DIR] [--ms 2 4 8 16 32 64]
        [--held-out 1000] [--json PATH]
"""

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import lightning as L
import torch

from aelab.callbacks.data_start import DataStart
from aelab.data.mnist import MNISTDataModule
from aelab.metrics.pca import fit_pca
from aelab.models.linear import LinearAutoencoder

DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
TARGET = 1.005


class RatioToPCA(L.Callback):
    """After each training epoch: test MSE / PCA MSE; stop once it reaches the target."""

    def __init__(self, x_test: torch.Tensor, pca_mse: float) -> None:
        self.x_test, self.pca_mse = x_test, pca_mse
        self.reached: tuple[int, float, float] | None = None
        self.ratio = float("inf")

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == 0:
            self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        with torch.no_grad():
            mse = ((module(self.x_test) - self.x_test) ** 2).mean().item()
        self.ratio = mse / self.pca_mse
        if self.reached is None and self.ratio <= TARGET:
            self.reached = (trainer.current_epoch + 1, time.perf_counter() - self.start, self.ratio)
            trainer.should_stop = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--ms", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=None, help="default: conf/model/linear.yaml")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--held-out", type=int, default=1000, help="MNIST val and test sizes")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    from omegaconf import OmegaConf

    defaults = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf/model/linear.yaml")
    lr = args.lr or defaults.lr
    dm = MNISTDataModule(
        data_dir=str(args.mnist),
        split="t10k",
        download=False,
        batch_size=args.batch_size,
        val_size=args.held_out,
        test_size=args.held_out,
    )
    dm.setup()
    x_train, x_test = dm.split("train")["x"], dm.split("test")["x"]
    print(
        f"MNIST t10k: {len(x_train)} train / {len(x_test)} test; lr={lr}, "
        f"batch={args.batch_size}, scheduler={defaults.scheduler} over {args.max_epochs} epochs, "
        f"target mse/pca <= {TARGET}"
    )
    print(f"{'m':>4} {'epochs':>7} {'seconds':>8} {'mse/pca':>8} {'svd s':>7}")
    rows = []
    for m in args.ms:
        start = time.perf_counter()
        pca = fit_pca(x_train, m)
        svd_seconds = time.perf_counter() - start
        pca_mse = (pca.reconstruction_sse(x_test).mean() / x_test[0].numel()).item()
        torch.manual_seed(0)
        model = LinearAutoencoder(
            [1, 28, 28], m, lr=lr, optimizer=defaults.optimizer, scheduler=defaults.scheduler
        )
        probe = RatioToPCA(x_test, pca_mse)
        trainer = L.Trainer(
            max_epochs=args.max_epochs,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            callbacks=[probe, DataStart()],  # centres with the training mean
        )
        trainer.fit(model, datamodule=dm)
        if probe.reached:
            epochs, seconds, ratio = probe.reached
            print(f"{m:>4} {epochs:>7} {seconds:>8.1f} {ratio:>8.4f} {svd_seconds:>7.3f}")
        else:
            epochs, seconds, ratio = None, None, probe.ratio
            print(
                f"{m:>4} {'>' + str(args.max_epochs):>7} {'-':>8} {probe.ratio:>8.4f} "
                f"{svd_seconds:>7.3f}"
            )
        rows.append(
            {
                "m": m,
                "epochs": epochs,
                "seconds": seconds,
                "ratio": ratio,
                "svd_seconds": svd_seconds,
            }
        )
    if args.json:
        report = {
            "train": len(x_train),
            "test": len(x_test),
            "optimizer": defaults.optimizer,
            "lr": lr,
            "batch_size": args.batch_size,
            "scheduler": defaults.scheduler,
            "max_epochs": args.max_epochs,
            "target": TARGET,
            "rows": rows,  # epochs and seconds are null where the target was not reached
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
