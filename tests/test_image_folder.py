"""A folder of images as data (``data=images``): decoding, the cache, the splits, training and
evaluation end to end, and a one-line refusal for every bad input."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aelab.data import images
from aelab.data.images import ImageFolderDataModule
from aelab.errors import ConfigError
from tests.conftest import load_results, run_cli, run_train_in_process

PER_CLASS = 24  # images per class in the fixture


def shape_image(kind: str, index: int) -> Image.Image:
    """A disc or horizontal stripes, in colour, on images of a few sizes."""
    rng = np.random.default_rng(index + (0 if kind == "disc" else 1000))
    height, width = 20 + index % 7, 24 + index % 5
    y, x = np.mgrid[:height, :width]
    if kind == "disc":
        radius = 4 + index % 4
        mask = (y - height / 2) ** 2 + (x - width / 2) ** 2 < radius**2
    else:
        mask = (y // (2 + index % 3)) % 2 == 1
    colour = rng.integers(128, 256, size=3)
    pixels = mask[..., None] * colour + rng.integers(0, 30, size=(height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_shapes(root: Path) -> Path:
    """`PER_CLASS` PNGs in each of the class folders disc/ and stripes/ (plus a note, ignored)."""
    for kind in ("disc", "stripes"):
        (root / kind).mkdir(parents=True)
        for index in range(PER_CLASS):
            shape_image(kind, index).save(root / kind / f"{kind}_{index:02d}.PNG")
    (root / "README.txt").write_text("not an image")
    return root


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    return write_shapes(tmp_path / "shapes")


def module(path: Path, cache: Path, **options) -> ImageFolderDataModule:
    dm = ImageFolderDataModule(path=str(path), size=[12, 12], cache_dir=str(cache), **options)
    dm.setup()
    return dm


# --- decoding and splits ------------------------------------------------------------------------
def test_splits_are_stratified_seeded_and_in_unit_range(shapes, tmp_path):
    rgb = module(shapes, tmp_path / "cache")
    assert rgb.input_shape == (3, 12, 12) and rgb.class_names == ["disc", "stripes"]
    sizes = {name: len(rgb.split(name)["x"]) for name in ("train", "val", "test")}
    assert sizes == {"train": 38, "val": 5, "test": 5}  # 48 images, 0.1 and 0.1 held out
    for name in ("val", "test"):
        assert set(rgb.split(name)["label"].tolist()) == {0, 1}  # both classes, drawn per class
    train = rgb.split("train")
    assert train["x"].shape == (38, 3, 12, 12) and train["x"].dtype == torch.float32
    assert train["label"].dtype == torch.int64
    assert float(train["x"].min()) >= 0 and float(train["x"].max()) <= 1
    assert rgb.value_range == (0.0, 1.0) and rgb.render == "rgb"

    grey = module(shapes, tmp_path / "cache", channels=1, val_size=4, test_size=6)
    assert grey.input_shape == (1, 12, 12) and grey.split("test")["x"].shape == (6, 1, 12, 12)
    assert grey.render == "gray"
    again = module(shapes, tmp_path / "cache")
    other = module(shapes, tmp_path / "cache", seed=7)
    assert torch.equal(again.split("val")["x"], rgb.split("val")["x"])
    assert not torch.equal(other.split("val")["x"], rgb.split("val")["x"])


def test_resize_stretches_and_crop_cuts_the_centre(tmp_path):
    wide = np.zeros((20, 40), dtype=np.uint8)
    wide[:, 10:30] = 255  # white in the middle half of a 2:1 image
    (tmp_path / "wide").mkdir()
    Image.fromarray(wide).save(tmp_path / "wide" / "a.jpg", quality=100)
    Image.fromarray(wide).save(tmp_path / "wide" / "b.bmp")
    Image.fromarray(wide).save(tmp_path / "wide" / "c.jpeg", quality=100)
    for i in range(7):  # a folder must leave 8 images to train
        Image.fromarray(wide).save(tmp_path / "wide" / f"d{i}.png")
    options = {"channels": 1, "val_size": 1, "test_size": 1}
    resized = module(tmp_path / "wide", tmp_path / "cache", fit="resize", **options)
    cropped = module(tmp_path / "wide", tmp_path / "cache", fit="crop", **options)
    row = resized.split("train")["x"][0, 0, 6]
    assert row[0] < 0.1 and row[-1] < 0.1 and row[6] > 0.9  # the whole image, squeezed
    assert float(cropped.split("train")["x"].min()) > 0.8  # only the white centre


def test_a_flat_folder_is_one_class_named_after_it(shapes, tmp_path):
    flat = tmp_path / "discs"
    shutil.copytree(shapes / "disc", flat)
    dm = module(flat, tmp_path / "cache", val_size=2, test_size=2)
    assert dm.class_names == ["discs"] and dm.trained_classes == [0]
    assert len(dm.split("train")["x"]) == PER_CLASS - 4


def test_classes_keep_train_and_val_to_them_and_test_to_all(shapes, tmp_path):
    dm = module(shapes, tmp_path / "cache", classes=["stripes"], val_size=0.2, test_size=0.2)
    assert dm.trained_classes == [1]
    assert set(dm.split("train")["label"].tolist()) == {1}
    assert set(dm.split("val")["label"].tolist()) == {1}
    assert set(dm.split("test")["label"].tolist()) == {0, 1}


# --- the cache ----------------------------------------------------------------------------------
def test_the_cache_is_written_once_reused_and_invalidated_by_a_changed_file(
    shapes, tmp_path, monkeypatch
):
    decoded = []
    decode_all = images.decode_all
    monkeypatch.setattr(images, "decode_all", lambda *args: decoded.append(1) or decode_all(*args))
    cache = tmp_path / "cache"
    first = module(shapes, cache)
    (written,) = cache.iterdir()
    assert len(decoded) == 1 and written.suffix == ".pt"

    second = module(shapes, cache)
    assert len(decoded) == 1 and list(cache.iterdir()) == [written]  # read, not decoded
    assert torch.equal(first.split("train")["x"], second.split("train")["x"])

    changed = shapes / "disc" / "disc_00.PNG"
    shape_image("stripes", 0).save(changed)
    os.utime(changed, ns=(1, 1))  # another modification time, whatever the clock
    third = module(shapes, cache)
    assert len(decoded) == 2
    (rewritten,) = cache.iterdir()  # the outdated cache is gone, no temporary file is left
    assert rewritten != written
    assert not torch.equal(first.split("train")["x"], third.split("train")["x"])

    module(shapes, cache, channels=1)  # other decoding options: a cache of their own
    assert len(decoded) == 3 and len(list(cache.iterdir())) == 2


# --- bad input: one line each -------------------------------------------------------------------
def corrupt(folder: Path) -> Path:
    (folder / "disc" / "disc_05.PNG").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def loose(folder: Path) -> Path:
    shape_image("disc", 0).save(folder / "stray.png")
    return folder


def no_images(folder: Path) -> Path:
    shutil.rmtree(folder / "disc")
    shutil.rmtree(folder / "stripes")
    return folder


BAD = {
    "unset": (None, {}, "data.path must be set to a folder of images, got null"),
    "missing": (lambda f: f / "nowhere", {}, "data.path must be an existing folder"),
    "a file": (lambda f: f / "README.txt", {}, "data.path must be a folder of images, not a file"),
    "no images": (no_images, {}, "no images in"),
    "corrupt": (corrupt, {}, "cannot decode the image"),
    "loose images": (loose, {}, "holds 1 image(s) (e.g. stray.png) beside class folders"),
    "held out": (lambda f: f, {"val_size": 30, "test_size": 0.5}, "data.val_size + data.test_size"),
    "train size": (lambda f: f, {"train_size": 40}, "data.train_size must be at most the 38"),
    "classes": (lambda f: f, {"classes": ["circle"]}, "data.classes must be classes of"),
    "size": (lambda f: f, {"size": [12, 0]}, "data.size must be a positive integer or a list"),
    "fit": (lambda f: f, {"fit": "pad"}, "data.fit must be one of resize, crop"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line(case, shapes, tmp_path):
    where, options, expected = BAD[case]
    path = where(shapes) if where else None
    with pytest.raises(ConfigError) as raised:
        dm = ImageFolderDataModule(
            path=None if path is None else str(path), cache_dir=str(tmp_path), **options
        )
        dm.setup()
    message = str(raised.value)
    assert message.startswith(expected) or expected in message, message
    assert "\n" not in message
    if case == "no images":
        assert ".png, .jpg, .jpeg, .bmp" in message
    if case == "corrupt":
        assert "disc_05.PNG" in message and not list(tmp_path.glob("*.pt"))


def test_a_folder_too_big_for_memory_is_refused_before_decoding(shapes, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "available_memory", lambda: 10_000)
    monkeypatch.setattr(images, "decode_all", lambda *args: pytest.fail("decoded"))
    with pytest.raises(ConfigError, match=r"the 48 images of .* need about .* lower data.size"):
        module(shapes, tmp_path / "cache")


def train_error(args: list[str], cwd: Path, monkeypatch, capsys) -> str:
    """aelab-train in this process: it exits with 2 and prints one error line."""
    code, err = run_train_in_process(["data=images", *args], cwd, monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err, err[-2000:]
    lines = [line for line in err.splitlines() if line.startswith("aelab: error:")]
    assert len(lines) == 1, err[-2000:]
    return lines[0]


def test_the_command_line_answers_bad_folders_in_one_line(shapes, tmp_path, monkeypatch, capsys):
    line = train_error(["logger=[]"], tmp_path, monkeypatch, capsys)
    assert line.startswith("aelab: error: data.path must be set to a folder of images"), line
    line = train_error(
        [f"data.path={shapes}", "data.classes=[circle]"], tmp_path, monkeypatch, capsys
    )
    assert line.startswith("aelab: error: data.classes must be classes of"), line
    assert "(disc, stripes)" in line and line.endswith("e.g. data.classes=[disc]")


# --- end to end: train one-class, evaluate, move the folder --------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """An MLP and a conv AE trained for a few steps on the discs alone (stripes: anomalies)."""
    root = tmp_path_factory.mktemp("images")
    folder = write_shapes(root / "shapes")
    done = run_cli(
        "-m",
        "model=mlp,conv",
        "data=images",
        f"data.path={folder}",
        "data.size=[12,12]",
        "data.classes=[disc]",
        "data.val_size=0.2",
        "data.test_size=0.25",
        "data.batch_size=8",
        "trainer.max_epochs=2",
        "torch_threads=1",
        "logger=[]",
        "hydra.sweep.dir=sweep",
        cwd=root,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = load_results(root / "sweep")
    assert [r["status"] for r in results] == ["ok", "ok"], results
    assert len(list((root / "data" / "cache").glob("*.pt"))) == 1  # decoded once for both
    return root, {r["model"]: Path(r["output_dir"]) for r in results}


def evaluate(run_dir: Path, *args: str, cwd: Path) -> dict:
    done = run_cli(
        f"ckpt_path={run_dir}", "hydra.run.dir=eval", *args, cwd=cwd, command="aelab-eval"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((cwd / "eval" / "eval.json").read_text())


def test_every_task_evaluates_a_conv_model_of_images(trained, tmp_path):
    root, runs = trained
    report = evaluate(runs["conv"], "task=all", cwd=tmp_path)
    assert report["input_dim"] == 3 * 12 * 12
    assert {"reconstruction", "anomaly", "embedding", "denoising"} <= set(report["tasks"])
    found = report["tasks"]["anomaly"]
    assert found["description"] == "normal: disc" and 0 < found["num_anomalies"] < found["num_test"]


def test_one_class_anomaly_detection_from_a_moved_folder(trained, tmp_path):
    root, runs = trained
    moved = tmp_path / "elsewhere"
    shutil.copytree(root / "shapes", moved)
    report = evaluate(
        runs["mlp"],
        "task=[anomaly]",
        f"data.path={moved}",
        "anomaly.normal_classes=[disc]",
        cwd=tmp_path,
    )
    found = report["tasks"]["anomaly"]
    assert report["data"]["path"] == str(moved)
    assert found["num_test"] == 12 and found["num_anomalies"] == 6  # 0.25 of 48, per class
    assert 0 <= found["model"]["auroc"] <= 1
