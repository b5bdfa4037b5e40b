"""Fashion-MNIST, KMNIST and CIFAR-10 on tiny files the tests write in the datasets' own formats:
loading, classes, the bad-input lines, and each dataset trained (MLP and conv, one sweep) and
evaluated through the console scripts."""

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from matplotlib.image import imread

from aelab.data.cifar10 import CIFAR10DataModule
from aelab.data.fashion_mnist import FashionMNISTDataModule
from aelab.data.kmnist import KMNISTDataModule
from aelab.errors import ConfigError
from tests.conftest import load_results, run_cli, write_idx

IDX_IMAGES = {"t10k": 100, "train": 60}  # images per file of the IDX fixtures
CIFAR_BATCH, CIFAR_TEST = 6, 100  # images per training batch (five of them) and in test_batch
SIZES = ["data.val_size=20", "data.test_size=30", "data.batch_size=16"]
FEW_STEPS = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2"]
CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
CIFAR_NAMES += [b"dog", b"frog", b"horse", b"ship", b"truck"]


# --- fixtures in the datasets' own formats ------------------------------------------------------
def labelled_images(count: int, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images whose label is a bright band at rows 2 + 2 * label; labels cycle 0..9."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.integers(0, 40, size=(count, *shape), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i, ..., 2 + 2 * label : 4 + 2 * label, 4:24] = 250
    return images, labels


def write_idx_folder(folder: Path, compress: bool = True) -> Path:
    """The four IDX files of MNIST's format in `folder`."""
    folder.mkdir(parents=True)
    for seed, (stem, count) in enumerate(IDX_IMAGES.items()):
        images, labels = labelled_images(count, (28, 28), seed)
        write_idx(folder / f"{stem}-images-idx3-ubyte{'.gz' * compress}", images, compress)
        write_idx(folder / f"{stem}-labels-idx1-ubyte{'.gz' * compress}", labels, compress)
    return folder


def write_cifar_folder(folder: Path) -> Path:
    """A ``cifar-10-batches-py`` folder: pickled dicts with bytes keys, as the archive has."""
    folder.mkdir(parents=True)
    files = [(f"data_batch_{i}", CIFAR_BATCH) for i in range(1, 6)] + [("test_batch", CIFAR_TEST)]
    for seed, (name, count) in enumerate(files):
        images, labels = labelled_images(count, (3, 32, 32), seed)
        images[:, 0] //= 2  # less red than green and blue: pictures come out in colour
        batch = {b"batch_label": name.encode(), b"data": images.reshape(count, -1)}
        batch[b"labels"] = labels.tolist()
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": CIFAR_NAMES, b"num_cases_per_batch": CIFAR_BATCH, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """Fashion-MNIST flat and gzipped; KMNIST in torchvision's layout, uncompressed; CIFAR-10 as
    the extracted archive inside data_dir."""
    root = tmp_path_factory.mktemp("data")
    write_idx_folder(root / "fashion")
    write_idx_folder(root / "kmnist" / "KMNIST" / "raw", compress=False)
    write_cifar_folder(root / "cifar" / "cifar-10-batches-py")
    return root


def datamodule(cls, folder: Path, **kwargs):
    settings = {"data_dir": str(folder), "download": False, "val_size": 20, "test_size": 30}
    dm = cls(
        **{"split": "test_batch" if cls is CIFAR10DataModule else "t10k", **settings, **kwargs}
    )
    dm.setup()
    return dm


# --- loading ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "folder", "shape", "names"),
    [
        (FashionMNISTDataModule, "fashion", (1, 28, 28), ["T-shirt/top", "Ankle boot"]),
        (KMNISTDataModule, "kmnist", (1, 28, 28), ["o", "wo"]),
        (CIFAR10DataModule, "cifar", (3, 32, 32), ["airplane", "truck"]),
    ],
)
def test_splits_shapes_values_and_class_names(cls, folder, shape, names, data_root):
    dm = datamodule(cls, data_root / folder)
    train = dm.split("train")
    assert dm.input_shape == shape and train["x"].shape == (50, *shape)
    assert train["x"].dtype == torch.float32 and dm.value_range == (0.0, 1.0)
    assert train["x"].min() >= 0.0 and train["x"].max() == pytest.approx(250 / 255)
    rows = train["x"][:, -1, :, 10].argmax(dim=1)  # the band at 2 + 2 * label travelled along
    assert torch.equal(rows, 2 + 2 * train["label"])
    assert len(dm.class_names) == 10 and [dm.class_names[i] for i in (0, 9)] == names
    assert dm.trained_classes == list(range(10))
    again = datamodule(cls, data_root / folder)
    assert torch.equal(again.split("test")["x"], dm.split("test")["x"])
    official = datamodule(cls, data_root / folder, split="official", val_size=10)
    train_file = 5 * CIFAR_BATCH if cls is CIFAR10DataModule else IDX_IMAGES["train"]
    assert len(official.split("train")["x"]) == train_file - 10
    assert len(official.split("test")["x"]) == 30


def test_classes_by_id_or_name_keep_train_and_val_only(data_root):
    dm = datamodule(FashionMNISTDataModule, data_root / "fashion", classes=["Trouser", 8])
    assert dm.trained_classes == [1, 8]
    for name in ("train", "val"):
        assert set(dm.split(name)["label"].tolist()) == {1, 8}
    assert set(dm.split("test")["label"].tolist()) - {1, 8}  # test keeps the other classes
    cifar = datamodule(CIFAR10DataModule, data_root / "cifar", classes=["cat"])
    assert cifar.trained_classes == [3] and set(cifar.split("train")["label"].tolist()) == {3}


def test_cifar_class_names_come_from_batches_meta(tmp_path):
    folder = write_cifar_folder(tmp_path / "cifar")  # the files in data_dir itself
    meta = {b"label_names": [name.upper() for name in CIFAR_NAMES]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    assert datamodule(CIFAR10DataModule, folder).class_names[0] == "AIRPLANE"


def test_pictures_show_three_channels_in_colour_and_others_in_grey():
    from aelab.metrics.plots import image_grid, to_rgb

    x = torch.rand(2, 3, 4, 4)
    assert torch.equal(to_rgb(x, "rgb", (0.0, 1.0)), x)
    for channels in (1, 2):
        grey = to_rgb(x[:, :channels], "gray", (0.0, 1.0))
        assert grey.shape == (2, 3, 4, 4) and torch.equal(grey[:, 1], x[:, 0])
    assert image_grid([x, x], "rgb", (0.0, 1.0)).shape[0] == 3


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "classes"),
    [(KMNISTDataModule, ["hiragana"]), (CIFAR10DataModule, [10]), (KMNISTDataModule, [])],
)
def test_unknown_classes_are_refused_in_one_line(cls, classes, tmp_path):
    with pytest.raises(ConfigError, match=r"data\.classes must be a non-empty list of class ids"):
        cls(data_dir=str(tmp_path), classes=classes)


@pytest.fixture
def broken_cifar(tmp_path: Path) -> dict[str, Path]:
    """CIFAR-10 folders with a truncated test_batch, a foreign pickle, and a wrong array."""
    folders = {}
    for case in ("truncated", "code", "shape"):
        folders[case] = write_cifar_folder(tmp_path / case)
    batch = folders["truncated"] / "test_batch"
    batch.write_bytes(batch.read_bytes()[:500])
    (folders["code"] / "test_batch").write_bytes(pickle.dumps({"data": Path("x")}))
    shape = {b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]}
    (folders["shape"] / "test_batch").write_bytes(pickle.dumps(shape, protocol=2))
    return folders


BAD = {
    "fashion missing": (
        ["data=fashion_mnist", "data.data_dir=/nonexistent/fashion"],
        "Fashion-MNIST files not found in /nonexistent/fashion (data.download=false); "
        "expected train-images-idx3-ubyte.gz",
    ),
    "kmnist missing": (
        ["data=kmnist", "data.data_dir=/nonexistent/kmnist"],
        "KMNIST files not found in /nonexistent/kmnist",
    ),
    "kmnist corrupt": (["data=kmnist", "data.data_dir={corrupt_idx}"], "truncated or corrupt"),
    "cifar missing": (
        ["data=cifar10", "data.data_dir=/nonexistent/cifar"],
        "CIFAR-10 files not found in /nonexistent/cifar or /nonexistent/cifar/cifar-10-batches-py"
        " (data.download=false): missing test_batch, batches.meta",
    ),
    "cifar truncated": (["data=cifar10", "data.data_dir={truncated}"], "truncated or corrupt"),
    "cifar foreign": (["data=cifar10", "data.data_dir={code}"], "PosixPath, not only arrays"),
    "cifar shape": (["data=cifar10", "data.data_dir={shape}"], "expected uint8 (N, 3072)"),
    "cifar class": (["data=cifar10", "data.classes=[horse,unicorn]"], "data.classes must be"),
    "cifar sizes": (
        ["data=cifar10", "data.val_size=9000", "data.test_size=2000"],
        "data.train_size + data.val_size + data.test_size must be at most the 10000 images of "
        "the test_batch file",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_data_are_one_line(case, broken_cifar, tmp_path, monkeypatch, capsys):
    from aelab.train import main

    folder = write_idx_folder(tmp_path / "idx")
    data = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 3])
    overrides, expected = BAD[case]
    overrides = [o.format(corrupt_idx=folder, **broken_cifar) for o in overrides]
    split = "data.split=test_batch" if "data=cifar10" in overrides else "data.split=t10k"
    argv = ["aelab-train", split, "data.download=false", *SIZES, *FEW_STEPS, *overrides]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", argv)
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit) as exit_info:
        main()  # in-process: as the console script, without its start-up time
    GlobalHydra.instance().clear()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("aelab: error:")]
    assert exit_info.value.code == 2 and len(errors) == 1, err[-2000:]
    assert expected in errors[0] and "Traceback" not in err


# --- end to end: one sweep over mlp and conv, then aelab-eval -----------------------------------
def train_sweep(root: Path, *overrides: str) -> list[dict]:
    """`aelab-train -m model=mlp,conv` with `overrides`; the two results, mlp first."""
    folder = root / "multirun"
    done = run_cli(
        "-m", "model=mlp,conv", *overrides, *SIZES, *FEW_STEPS, f"hydra.sweep.dir={folder}",
        cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = sorted(load_results(folder), key=lambda r: r["output_dir"])
    assert [r["model"] for r in results] == ["mlp", "conv"]
    assert all(r["status"] == "ok" and np.isfinite(r["metrics"]["test/mse"]) for r in results)
    return results


def evaluate(run_dir: str, root: Path, *args: str) -> dict:
    done = run_cli(
        f"ckpt_path={run_dir}", "hydra.run.dir=eval", *args, cwd=root, command="aelab-eval"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / "eval" / "eval.json").read_text())


def test_fashion_mnist_trains_and_evaluates(data_root, tmp_path):
    data = ["data=fashion_mnist", f"data.data_dir={data_root / 'fashion'}", "data.split=t10k"]
    mlp, conv = train_sweep(tmp_path, *data, "data.download=false")
    assert mlp["input_dim"] == conv["input_dim"] == 784
    report = evaluate(mlp["output_dir"], tmp_path, "anomaly.normal_classes=[Trouser,'Ankle boot']")
    assert {"reconstruction", "anomaly", "embedding", "interpolation"} <= set(report["tasks"])
    anomaly = report["tasks"]["anomaly"]
    assert anomaly["description"] == "normal: Trouser,Ankle boot"
    assert 0 < anomaly["num_anomalies"] < anomaly["num_test"] == 30
    assert "Trouser" in report["tasks"]["reconstruction"]["per_class"]  # classes by name


def test_kmnist_one_class_run_trains_and_evaluates(data_root, tmp_path):
    data = ["data=kmnist", f"data.data_dir={data_root / 'kmnist'}", "data.split=t10k"]
    _, conv = train_sweep(tmp_path, *data, "data.download=false", "data.classes=[o,ki,2]")
    report = evaluate(conv["output_dir"], tmp_path, "task=[anomaly,reconstruction]")
    assert report["tasks"]["anomaly"]["description"] == "normal: o,ki,su"
    assert report["data"]["classes"] == ["o", "ki", 2]


def test_cifar10_trains_and_evaluates_in_colour(data_root, tmp_path):
    data = ["data=cifar10", f"data.data_dir={data_root / 'cifar'}", "data.split=test_batch"]
    # PCA of 3072 inputs takes seconds: no PCA start here (the MNIST-like runs have one), and
    # one evaluation task that fits PCA
    mlp, conv = train_sweep(tmp_path, *data, "data.download=false", "model.linear_path=false")
    assert mlp["input_dim"] == conv["input_dim"] == 3072
    tasks = ["reconstruction", "denoising", "interpolation"]
    report = evaluate(conv["output_dir"], tmp_path, f"task=[{','.join(tasks)}]")
    assert list(report["tasks"]) == tasks
    assert "airplane" in report["tasks"]["reconstruction"]["per_class"]  # names of batches.meta
    for task in ("reconstruction", "denoising"):
        grid = report["tasks"][task]["figures"][0]  # rows of images: originals, reconstructions
        pixels = imread(tmp_path / "eval" / grid)[..., :3]
        assert np.abs(pixels[..., 0] - pixels[..., 1]).max() > 0.1, task  # red is not green
