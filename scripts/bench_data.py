"""Training throughput on your own data against MNIST of the same size, measured in one run.

The same MLP AE (the MNIST recipe's network, batch 128) trains a few epochs on the same images
held four ways, each through `aelab.runs.build.build_run` and the Trainer `aelab-train` builds:

- ``mnist``: `data=mnist` (t10k IDX files, the reference);
- ``images``: `data=images`, the same images written as PNG files, second start (decoded cache);
- ``array``: `data=array`, the same images as one `.npy` in memory;
- ``mapped``: `data=array` with an in-memory budget below the file's size: memory-mapped.

The four alternate over ``--rounds`` rounds (the order reversed every other round), so a drift
of the machine's speed does not favour one. Prints seconds per epoch (the median over rounds of
each round's median epoch after the first), samples per second, the ratio to MNIST, and the
start (DataModule set-up) time; writes the figures as JSON with ``--json``.

    python scripts/bench_data.py --epochs 4 --rounds 2
"""

import argparse
import json
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch

DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


class EpochTimer(L.Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        self.seconds.append(time.perf_counter() - self.started)


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from aelab.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name="train", overrides=overrides, return_hydra_config=False)


def measure(name: str, data: list[str], epochs: int, out: Path, tag: str = "") -> dict:
    """Build the run as aelab-train does, time its set-up and its epochs."""
    from omegaconf import OmegaConf

    from aelab.runs.build import build_run, run_callbacks
    from aelab.train import build_trainer

    overrides = [
        *data,
        "model=mlp",
        "model.hidden_sizes=[512]",
        "model.output_activation=unit_clip",
        "compression.latent_dim=16",
        "data.batch_size=128",
        f"trainer.max_epochs={epochs}",
        "+trainer.limit_val_batches=0",
        "logger=[]",
        "callbacks.progress_bar=null",
        f"paths.output_dir={out / (name + tag)}",
        f"paths.data_dir={out / 'data'}",
    ]
    cfg = compose(overrides)
    L.seed_everything(0, verbose=False)
    started = time.perf_counter()
    run = build_run(cfg)
    run.datamodule.setup()
    setup_seconds = time.perf_counter() - started
    timer = EpochTimer()
    callbacks = [timer, *run_callbacks(OmegaConf.to_container(cfg, resolve=True))]
    trainer = build_trainer(cfg, callbacks)
    trainer.fit(run.model, datamodule=run.datamodule)
    samples = len(run.datamodule.split("train")["x"])
    per_epoch = statistics.median(timer.seconds[1:] or timer.seconds)
    return {
        "name": name,
        "train_samples": samples,
        "setup_seconds": setup_seconds,
        "epoch_seconds": per_epoch,
        "samples_per_second": samples / per_epoch,
    }


def load_images(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from aelab.data.idx import find_file, read_idx

    images = find_file(mnist_dir, "t10k-images-idx3-ubyte")
    labels = find_file(mnist_dir, "t10k-labels-idx1-ubyte")
    if images is None or labels is None:
        raise SystemExit(f"no MNIST t10k files in {mnist_dir}; give --mnist <folder>")
    return read_idx(images), read_idx(labels)


def write_folder(images: np.ndarray, labels: np.ndarray, folder: Path) -> None:
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i:05d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    images, labels = load_images(args.mnist)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        folder, array = out / "folder", out / "images.npy"
        write_folder(images, labels, folder)
        np.save(array, images[:, None].astype(np.float32) / 255)
        np.save(out / "labels.npy", labels.astype(np.int64))
        held_out = ["data.val_size=1000", "data.test_size=1000"]
        mnist = [
            "data=mnist",
            "data.split=t10k",
            "data.download=false",
            f"data.data_dir={args.mnist}",
            *held_out,
        ]
        image_data = ["data=images", f"data.path={folder}", "data.size=[28,28]", "data.channels=1"]
        array_data = ["data=array", f"data.path={array}", f"data.labels_path={out / 'labels.npy'}"]
        budget = f"data.in_memory_limit={array.stat().st_size // 4}"  # a quarter of the file

        decode_started = time.perf_counter()
        from aelab.runs.build import build_run

        build_run(
            compose([*image_data, *held_out, f"paths.data_dir={out / 'data'}"])
        ).datamodule.setup()
        first_decode = time.perf_counter() - decode_started
        print(f"image folder: {len(images)} PNG files decoded and cached in {first_decode:.1f} s")

        kinds = [
            ("mnist", mnist),
            ("images", [*image_data, *held_out]),
            ("array", [*array_data, *held_out]),
            ("mapped", [*array_data, *held_out, budget]),
        ]
        measured: dict[str, list[dict]] = {name: [] for name, _ in kinds}
        for round_ in range(args.rounds):
            for name, data in kinds if round_ % 2 == 0 else kinds[::-1]:
                row = measure(name, data, args.epochs, out, tag=f"_{round_}")
                measured[name].append(row)
                print(
                    f"round {round_ + 1}  {name:<7} train {row['train_samples']}  set-up "
                    f"{row['setup_seconds']:.2f} s  epoch {row['epoch_seconds']:.2f} s",
                    flush=True,
                )
        rows = []
        for name, runs in measured.items():
            epoch = statistics.median(r["epoch_seconds"] for r in runs)
            rows.append(
                {
                    "name": name,
                    "train_samples": runs[0]["train_samples"],
                    "setup_seconds": statistics.median(r["setup_seconds"] for r in runs),
                    "epoch_seconds": epoch,
                    "samples_per_second": runs[0]["train_samples"] / epoch,
                }
            )
    reference = rows[0]["samples_per_second"]
    print("\nthroughput / MNIST's (same images, same model, one run):")
    for row in rows:
        row["ratio_to_mnist"] = row["samples_per_second"] / reference
        print(f"  {row['name']:<7} {row['ratio_to_mnist']:.2f}")
    figures = {
        "threads": torch.get_num_threads(),
        "epochs": args.epochs,
        "rounds": args.rounds,
        "first_decode_seconds": first_decode,
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
