import gzip

import numpy as np
import pytest
import torch

from aelab.data.idx import read_idx
from aelab.data.mnist import MNISTDataModule
from aelab.errors import ConfigError
from tests.conftest import write_idx


def _dm(folder, **kwargs):
    settings = {"data_dir": str(folder), "split": "t10k", "download": False}
    settings.update(kwargs)
    return MNISTDataModule(val_size=50, test_size=50, batch_size=32, **settings)


def test_idx_fixture_loads_with_right_shapes_values_and_labels(mnist_dir):
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [i % 10 for i in range(300)]
    dm = _dm(mnist_dir)
    dm.setup()
    train = dm.split("train")
    assert dm.input_shape == (1, 28, 28) and dm.input_dim == 784
    assert train["x"].shape == (200, 1, 28, 28) and train["x"].dtype == torch.float32
    assert train["x"].min() >= 0.0 and train["x"].max() <= 1.0
    assert train["x"].max() == pytest.approx(250 / 255)
    # the fixture's bright bar sits at rows 2 + 2 * label: labels travel with their images
    rows = train["x"][:, 0, :, 10].argmax(dim=1)
    assert torch.equal(rows, 2 + 2 * train["label"])


def test_t10k_split_sizes_are_seeded(mnist_dir):
    a, b = _dm(mnist_dir), _dm(mnist_dir)
    a.setup(), b.setup()
    sizes = {name: len(a.split(name)["x"]) for name in ("train", "val", "test")}
    assert sizes == {"train": 200, "val": 50, "test": 50}
    assert torch.equal(a.split("test")["label"], b.split("test")["label"])
    c = _dm(mnist_dir, seed=99)
    c.setup()
    assert not torch.equal(a.split("test")["x"], c.split("test")["x"])


def test_official_split_uses_train_files(mnist_dir):
    dm = MNISTDataModule(data_dir=str(mnist_dir), split="official", download=False, val_size=100)
    dm.setup()
    assert len(dm.split("train")["x"]) == 300 and len(dm.split("val")["x"]) == 100
    assert len(dm.split("test")["x"]) == 300


def test_digits_filter_keeps_listed_classes_in_train_and_val_only(mnist_dir):
    dm = _dm(mnist_dir, classes=[3, 7])
    dm.setup()
    for name in ("train", "val"):
        assert set(dm.split(name)["label"].unique().tolist()) <= {3, 7}
    assert len(dm.split("test")["label"].unique()) == 10


def test_digits_is_the_former_name_of_classes_with_one_warning(mnist_dir, caplog):
    new, old = _dm(mnist_dir, classes=[3, 7]), _dm(mnist_dir, digits=[3, 7])
    new.setup(), old.setup()
    assert torch.equal(new.split("train")["x"], old.split("train")["x"])  # the same one-class run
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warnings == ["data.digits is deprecated: write data.classes=[3, 7] (same meaning)"]
    assert _dm(mnist_dir, classes=[3], digits=[3]).keep == [3]  # both, agreeing: accepted
    with pytest.raises(ConfigError, match=r"data.digits=\[3\] and data.classes=\[4\] disagree"):
        _dm(mnist_dir, classes=[4], digits=[3])
    with pytest.raises(ConfigError, match="data.classes must be a non-empty list of digits"):
        _dm(mnist_dir, digits=[11])  # the alias is checked as the key it stands for


def test_missing_files_error_names_directory_and_files(tmp_path):
    folder = tmp_path / "nothing_here"
    with pytest.raises(ConfigError) as error:
        _dm(folder, split="official").setup()
    message = str(error.value)
    assert str(folder) in message
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        assert f"{name}-idx" in message


def test_truncated_and_foreign_files_are_named(mnist_dir, tmp_path):
    data = (mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes()
    truncated = tmp_path / "truncated-idx3-ubyte.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="truncated"):
        read_idx(truncated)
    foreign = tmp_path / "foreign-idx3-ubyte.gz"
    foreign.write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(100)))
    with pytest.raises(ConfigError, match="magic"):
        read_idx(foreign)
    short = write_idx(tmp_path / "short-idx1-ubyte", np.arange(5), compress=False)
    short.write_bytes(short.read_bytes()[:-2])
    with pytest.raises(ConfigError, match="truncated"):
        read_idx(short)


def test_sizes_larger_than_the_data_are_refused(mnist_dir):
    with pytest.raises(ConfigError, match="exceed"):
        _dm(mnist_dir, train_size=290).setup()
