"""data=array: N vectors or images from an .npy, .npz or .pt file, in memory or memory-mapped.

End to end: every kind of file trains through aelab-train (mlp and conv, one sweep) and is
evaluated by aelab-eval (reconstruction, anomaly). Then the splits, labels, standardisation,
the memory-mapped path (never read whole: a split is a view of the mapped cache, PCA reads it in
chunks), and a one-line `ConfigError` for each bad input.
"""

import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from aelab.data.array import ArrayDataModule
from aelab.data.loaders import TensorBatches, is_mapped
from aelab.errors import ConfigError
from aelab.metrics import pca as pca_module
from aelab.metrics.pca import fit_pca
from aelab.schema import validate_train_config
from tests.conftest import compose_config, load_results, run_cli

ROWS = 240


def labelled(rows: int, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise of `shape` per row, with a bump whose place tells the row's class (0, 1 or 2)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % 3
    x = rng.normal(size=(rows, *shape))
    flat = x.reshape(rows, -1)
    width = flat.shape[1] // 3
    for c in range(3):
        flat[labels == c, c * width : (c + 1) * width] += 3.0
    return x, labels


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One file of each kind: vectors (.npy + labels file), images (.npz, .pt), a mapped .npy."""
    root = tmp_path_factory.mktemp("arrays")
    vectors, labels = labelled(ROWS, (16,))
    np.save(root / "vectors.npy", vectors)  # float64, labels in a second file
    np.save(root / "labels.npy", labels)
    images, _ = labelled(ROWS, (8, 8))
    uint8 = np.clip(images * 30 + 100, 0, 255).astype(np.uint8)
    np.savez_compressed(root / "images.npz", x=uint8, labels=labels)  # (N, H, W)
    colour, _ = labelled(ROWS, (3, 8, 8))
    torch.save(
        {"x": torch.tensor(colour, dtype=torch.float32), "labels": torch.tensor(labels)},
        root / "images.pt",
    )
    big, big_labels = labelled(1200, (1, 8, 8), seed=1)
    np.save(root / "mapped.npy", big.astype(np.float32))
    np.save(root / "mapped_labels.npy", big_labels)
    names = ("vectors.npy", "labels.npy", "images.npz", "images.pt", "mapped.npy")
    return {name.replace(".", "_"): root / name for name in (*names, "mapped_labels.npy")}


def fixture_configs(root: Path, files: dict[str, Path]) -> Path:
    """A config group ``fixture`` (one option per file) on Hydra's search path."""
    options = {
        "vectors": f"path: {files['vectors_npy']}\n  labels_path: {files['labels_npy']}\n"
        "  standardize: per_feature",
        "npz": f"path: {files['images_npz']}\n  standardize: global",
        "pt": f"path: {files['images_pt']}",
        "mapped": f"path: {files['mapped_npy']}\n  labels_path: {files['mapped_labels_npy']}\n"
        f"  in_memory_limit: 1000\n  cache_dir: {root / 'cache'}",
    }
    folder = root / "conf" / "fixture"
    folder.mkdir(parents=True)
    for name, data in options.items():
        (folder / f"{name}.yaml").write_text(f"# @package _global_\ndata:\n  {data}\n")
    return root / "conf"


def test_every_kind_of_file_trains_and_evaluates(files, tmp_path):
    conf = fixture_configs(tmp_path, files)
    done = run_cli(
        "-m",
        f"hydra.searchpath=[file://{conf}]",
        "+fixture=vectors,npz,pt,mapped",
        "model=mlp,conv",
        "data=array",
        "data.classes=[0]",  # one-class: the other classes are the test split's anomalies
        "debug=tiny",
        "trainer.max_epochs=1",
        "logger=[]",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = load_results(tmp_path / "sweep")
    assert len(results) == 8 and all(r["status"] == "ok" for r in results)
    for result in results:
        metrics = result["metrics"]
        assert np.isfinite(metrics["test/mse"]) and metrics["test/pca_mse"] > 0, result["overrides"]
    shapes = {r["config"]["data"]["path"].rsplit("/", 1)[-1]: r["input_dim"] for r in results}
    assert shapes == {"vectors.npy": 16, "images.npz": 64, "images.pt": 192, "mapped.npy": 64}
    assert list((tmp_path / "cache").glob("array-mapped-*.npy"))  # the mapped splits' file

    runs = [Path(r["output_dir"]) for r in results if r["model"] == "mlp"]
    evaluated = run_cli(
        "-m",
        f"ckpt_path={','.join(str(run) for run in runs)}",
        "task=[reconstruction,anomaly]",
        "hydra.sweep.dir=evals",
        command="aelab-eval",
        cwd=tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    reports = [json.loads(p.read_text()) for p in sorted((tmp_path / "evals").glob("*/eval.json"))]
    assert len(reports) == len(runs) == 4
    for report in reports:
        anomaly, recon = report["tasks"]["anomaly"], report["tasks"]["reconstruction"]
        assert anomaly["description"] == "normal: 0"
        assert 0 < anomaly["num_anomalies"] < anomaly["num_test"]
        assert anomaly["model"]["auroc"] > 0.5 and anomaly["pca"]["auroc"] > 0.5
        assert set(recon["per_class"]) == {"0", "1", "2"} and recon["mse"] > 0


# --- the splits ---------------------------------------------------------------------------------
def test_the_shape_is_read_from_the_header_and_the_splits_are_seeded(files):
    dm = ArrayDataModule(path=str(files["vectors_npy"]), labels_path=str(files["labels_npy"]))
    assert dm.input_shape == (1, 1, 16) and dm.class_names == ["0", "1", "2"] and not dm.splits
    dm.setup()
    sizes = {name: len(dm.split(name)["x"]) for name in ("train", "val", "test")}
    assert sizes == {"train": 192, "val": 24, "test": 24}
    train = dm.split("train")
    assert train["x"].dtype == torch.float32 and train["label"].dtype == torch.int64
    again = ArrayDataModule(path=str(files["vectors_npy"]), labels_path=str(files["labels_npy"]))
    assert torch.equal(again.split("test")["x"], dm.split("test")["x"])
    other = ArrayDataModule(
        path=str(files["vectors_npy"]), labels_path=str(files["labels_npy"]), seed=7
    )
    assert not torch.equal(other.split("test")["x"], dm.split("test")["x"])
    vectors = np.load(files["vectors_npy"])
    rows = dm.split_rows()
    assert np.allclose(train["x"].numpy().reshape(-1, 16), vectors[rows["train"]], atol=1e-6)


def test_images_labels_and_one_class_runs(files):
    npz = ArrayDataModule(path=str(files["images_npz"]), classes=["1"], val_size=30)
    assert npz.input_shape == (1, 8, 8) and npz.trained_classes == [1]
    assert (
        set(npz.split("train")["label"].tolist()) == {1} == set(npz.split("val")["label"].tolist())
    )
    assert set(npz.split("test")["label"].tolist()) == {0, 1, 2}
    assert npz.value_range == (
        float(npz.split("train")["x"].min()),
        float(npz.split("train")["x"].max()),
    )
    pt = ArrayDataModule(path=str(files["images_pt"]), class_names=["a", "b", "c"])
    assert pt.input_shape == (3, 8, 8) and pt.class_names == ["a", "b", "c"]
    assert (pt.render, npz.render) == ("rgb", "gray")
    folded = ArrayDataModule(path=str(files["vectors_npy"]), shape=[4, 4], value_range=[-1, 1])
    assert folded.input_shape == (1, 4, 4) and folded.class_names == ["all"]
    assert folded.value_range == (-1, 1) and set(folded.split("test")["label"].tolist()) == {0}


def test_string_labels_name_the_classes(tmp_path, files):
    names = np.array(["cat", "dog", "eel"])[np.load(files["labels_npy"])]
    np.save(tmp_path / "names.npy", names)
    dm = ArrayDataModule(path=str(files["vectors_npy"]), labels_path=str(tmp_path / "names.npy"))
    assert dm.class_names == ["cat", "dog", "eel"]
    ids = dm.split("train")["label"]
    assert [dm.class_names[i] for i in ids[:5]] == list(names[dm.split_rows()["train"][:5]])


def test_labels_from_a_second_file_and_named_classes(tmp_path, files):
    labels = np.load(files["labels_npy"])
    np.savez(tmp_path / "labels.npz", y=labels, other=labels)
    dm = ArrayDataModule(
        path=str(files["vectors_npy"]),
        labels_path=str(tmp_path / "labels.npz"),
        labels_key="y",
        class_names=["zero", "one", "two"],
        classes=["two"],
    )
    assert dm.class_names == ["zero", "one", "two"] and dm.trained_classes == [2]
    assert set(dm.split("train")["label"].tolist()) == {2}
    np.save(tmp_path / "names.npy", np.array(["b", "a", "c"])[labels])
    named = ArrayDataModule(
        path=str(files["vectors_npy"]),
        labels_path=str(tmp_path / "names.npy"),
        class_names=["c", "b", "a"],
    )
    rows = named.split_rows()["test"]
    assert named.split("test")["label"].tolist() == [[1, 2, 0][c] for c in labels[rows]]


@pytest.mark.parametrize("standardize", ["global", "per_feature"])
def test_standardisation_uses_training_statistics(files, standardize):
    dm = ArrayDataModule(
        path=str(files["vectors_npy"]),
        labels_path=str(files["labels_npy"]),
        standardize=standardize,
    )
    x = dm.split("train")["x"].double().flatten(1)
    if standardize == "global":
        assert abs(float(x.mean())) < 1e-6 and float(x.std(unbiased=False)) == pytest.approx(
            1, 1e-5
        )
    else:
        assert x.mean(0).abs().max() < 1e-6
        assert torch.allclose(x.std(0, unbiased=False), torch.ones(16, dtype=x.dtype), atol=1e-5)
    original = dm.to_original(dm.split("test")["x"]).numpy().reshape(-1, 16)
    assert np.allclose(original, np.load(files["vectors_npy"])[dm.split_rows()["test"]], atol=1e-5)


# --- the memory-mapped path --------------------------------------------------------------------
def test_mapped_splits_equal_the_in_memory_ones(files, tmp_path):
    common = {"path": str(files["vectors_npy"]), "labels_path": str(files["labels_npy"])}
    common |= {"standardize": "per_feature", "classes": [0, 2]}
    memory = ArrayDataModule(**common)
    mapped = ArrayDataModule(**common, in_memory_limit=0, cache_dir=str(tmp_path))
    for name in ("train", "val", "test"):
        assert not is_mapped(memory.split(name)["x"]) and is_mapped(mapped.split(name)["x"])
        for key in ("x", "label"):
            assert torch.equal(memory.split(name)[key], mapped.split(name)[key])
    assert mapped.value_range == memory.value_range and mapped.mapped
    cache = next(tmp_path.glob("*.npy"))
    written = cache.stat().st_mtime_ns
    reused = ArrayDataModule(**common, in_memory_limit="0B", cache_dir=str(tmp_path))
    assert torch.equal(reused.split("train")["x"], memory.split("train")["x"])
    assert cache.stat().st_mtime_ns == written and reused.value_range == memory.value_range
    ArrayDataModule(**common, in_memory_limit=0, cache_dir=str(tmp_path), seed=5).setup()
    assert not cache.exists() and len(list(tmp_path.glob("*.npy"))) == 1  # the outdated one goes


def test_a_file_over_the_budget_is_never_read_whole(tmp_path, monkeypatch):
    rows, inputs = 50_000, 256  # 51 MB of float32, against a 10 MB budget
    x = np.lib.format.open_memmap(tmp_path / "big.npy", "w+", np.float32, (rows, inputs))
    for start in range(0, rows, 5000):
        x[start : start + 5000] = np.random.default_rng(start).normal(size=(5000, inputs))
    x.flush()
    del x
    dm = ArrayDataModule(
        path=str(tmp_path / "big.npy"),
        in_memory_limit="10MB",
        standardize="global",
        cache_dir=str(tmp_path / "cache"),
    )
    tracemalloc.start()
    dm.setup()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10e6, f"building the splits allocated {peak / 1e6:.0f} MB"  # < the budget
    train = dm.split("train")["x"]
    assert is_mapped(train) and len(train) == 40_000
    mapped = np.load(next((tmp_path / "cache").glob("*.npy")), mmap_mode="r")
    assert train.data_ptr() != 0 and torch.equal(train[:3], torch.from_numpy(np.array(mapped[:3])))

    loader = TensorBatches(dm.split("train"), 512, shuffle=True, device=torch.device("cpu"))
    batch = next(iter(loader))
    assert is_mapped(loader.tensors["x"]) and batch["x"].shape == (512, 1, 1, 256)
    assert not is_mapped(batch["x"])  # a batch gathers its own rows

    pieces = []
    original = pca_module.chunks
    monkeypatch.setattr(pca_module, "chunks", lambda t, r: (pieces.append(r), original(t, r))[1])
    fit_pca(train, 4)
    assert pieces and max(pieces) * inputs <= pca_module.CHUNK_VALUES


# --- PCA: in memory unchanged, streamed the same ---------------------------------------------
def reference_fit(x: torch.Tensor, m: int, centred: bool):
    """fit_pca as it was before streaming (the in-memory path must stay bit for bit the same)."""
    flat = x.flatten(1).double()
    mean = flat.mean(dim=0) if centred else torch.zeros(flat.shape[1], dtype=flat.dtype)
    centred_x = flat - mean
    moment = centred_x.T @ centred_x / len(flat)
    eigenvalues, eigenvectors = torch.linalg.eigh(moment)
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    return mean, eigenvectors[:, : min(m, flat.shape[1])].T.contiguous(), eigenvalues


@pytest.mark.parametrize("centred", [True, False])
def test_in_memory_pca_is_unchanged_and_streamed_pca_equals_it(centred):
    x = torch.randn(300, 1, 5, 4, generator=torch.Generator().manual_seed(0)) * 2 + 1
    pca = fit_pca(x, 6, centred=centred)
    mean, components, eigenvalues = reference_fit(x, 6, centred)
    assert torch.equal(pca.mean, mean) and torch.equal(pca.components, components)
    assert torch.equal(pca.eigenvalues, eigenvalues)
    flat = x.flatten(1).to(mean)
    before = (((flat - mean) @ components.T @ components + mean - flat) ** 2).sum(dim=1)
    assert torch.equal(pca.reconstruction_sse(x), before)
    if centred:  # the noise reference's training mean is PCA's, exactly
        assert torch.equal(pca.mean, x.flatten(1).double().mean(dim=0))
    streamed = fit_pca(x, 6, centred=centred, chunk_rows=7)
    assert torch.allclose(streamed.mean, pca.mean, rtol=1e-12, atol=1e-14)
    assert torch.allclose(streamed.eigenvalues, pca.eigenvalues, rtol=1e-10, atol=1e-12)
    assert torch.allclose(streamed.components.abs(), pca.components.abs(), atol=1e-8)
    assert torch.allclose(
        pca.reconstruction_sse(x, chunk_rows=7), pca.reconstruction_sse(x), rtol=1e-12
    )


# --- bad input: one line each ------------------------------------------------------------------
def bad_files(root: Path) -> dict[str, Path]:
    np.save(root / "rank1.npy", np.zeros(10))
    np.save(root / "rank5.npy", np.zeros((4, 1, 2, 2, 2)))
    np.save(root / "text.npy", np.array([["a", "b"]] * 10))
    nan = np.ones((50, 4))
    nan[33, 2] = np.nan
    np.save(root / "nan.npy", nan)
    np.save(root / "ok.npy", np.ones((50, 4)))
    np.save(root / "short.npy", np.zeros(49, dtype=np.int64))
    np.save(root / "float_labels.npy", np.linspace(0, 1, 50))
    np.savez(root / "two.npz", a=np.ones((50, 4)), b=np.ones((50, 4)))
    np.savez(root / "ok.npz", x=np.ones((50, 4)))
    torch.save([1, 2, 3], root / "list.pt")
    torch.save({"x": torch.ones(50, 4), "labels": [1, 2]}, root / "listlabels.pt")
    (root / "table.csv").write_text("1,2\n")
    (root / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    return {p.name: p for p in root.iterdir()}


BAD = {
    "path unset": ({"path": None}, "data.path must be set to an .npy, .npz or .pt file"),
    "missing file": ({"path": "absent.npy"}, "data.path must be an existing file"),
    "unknown extension": ({"path": "table.csv"}, "extension '.csv'"),
    "rank 1": ({"path": "rank1.npy"}, r"shape \(10,\) \(rank 1\)"),
    "rank 5": ({"path": "rank5.npy"}, "rank 5"),
    "not numbers": ({"path": "text.npy"}, "not numbers"),
    "corrupt": ({"path": "broken.npy"}, "cannot be read as .npy"),
    "labels too short": ({"labels_path": "short.npy"}, "49 labels for 50 rows"),
    "labels not integers": ({"labels_path": "float_labels.npy"}, "integers or strings, got float"),
    "npz key absent": (
        {"path": "ok.npz", "key": "nope"},
        r"no entry .nope. \(entries: x\); set data.key",
    ),
    "npz key unset": ({"path": "two.npz"}, "holds entries a, b but none is named 'x'"),
    "pt not a dict": ({"path": "list.pt"}, "holds a list, not a tensor or a dict"),
    "pt labels not a tensor": ({"path": "listlabels.pt"}, "entry 'labels' is a list"),
    "held out too many": ({"val_size": 30, "test_size": 20}, "leave 0 of the 50 rows of ok.npy"),
    "too few to train": (
        {"val_size": 25, "test_size": 20},
        "leave 5 of the 50 rows .* fewer than 8",
    ),
    "bad class": ({"labels_path": "ok_labels.npy", "classes": ["z"]}, "unknown class 'z'"),
    "class_names too few": (
        {"labels_path": "ok_labels.npy", "class_names": ["a"]},
        "label 1 is no id of the 1 data.class_names",
    ),
    "shape": ({"shape": [3, 3]}, r"data.shape must be a shape of the 4 inputs"),
    "memory text": ({"in_memory_limit": "2 gigs"}, "data.in_memory_limit must be bytes"),
    "standardize": ({"standardize": "zscore"}, "data.standardize must be one of none"),
    "key on npy": ({"key": "x"}, "an .npy holds one array, so data.key does not apply"),
    "three rows": ({"path": "three.npy"}, "use at least 10 samples"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad_files(tmp_path)
    np.save(tmp_path / "ok_labels.npy", np.arange(50) % 2)
    np.save(tmp_path / "three.npy", np.zeros((3, 4), dtype=np.float32))
    settings, expected = BAD[case]
    with pytest.raises(ConfigError, match=expected) as error:
        ArrayDataModule(**{"path": "ok.npy", **settings})
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"path": "nan.npy"}, "row 33 holds a non-finite value"),
        ({"path": "nan.npy", "standardize": "global", "val_size": 1, "test_size": 1}, "row 33"),
        ({"path": "nan.npy", "in_memory_limit": 0}, "row 33 holds a non-finite value"),
        ({"path": "ok.npz", "in_memory_limit": 0}, "a .npz file is read whole"),
    ],
)
def test_bad_values_are_found_when_the_splits_are_built(settings, expected, tmp_path):
    bad_files(tmp_path)
    dm = ArrayDataModule(
        **{**settings, "path": str(tmp_path / settings["path"]), "cache_dir": str(tmp_path)}
    )
    with pytest.raises(ConfigError, match=expected) as error:
        dm.setup()
    assert "\n" not in str(error.value)
    assert not list(tmp_path.glob(".*.npy.*"))  # no half-written cache left behind


def test_the_schema_passes_a_good_file_and_the_command_line_says_what_is_wrong(
    files, tmp_path, monkeypatch, capsys
):
    cfg = compose_config("data=array", f"data.path={files['vectors_npy']}", "model=conv")
    HydraConfig.instance().set_config(cfg)
    validate_train_config(cfg)  # passes: input_shape from the header, conv takes (1, 1, 16)

    from aelab.train import main

    bad_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    for overrides, expected in (
        (["data=array"], "data.path must be set to an .npy, .npz or .pt file, got None"),
        (["data=array", "data.path=table.csv"], "data.path must be an .npy, .npz or .pt file"),
        (["data=array", "data.path=nan.npy", "debug=tiny", "logger=[]"], "row 33"),
    ):
        monkeypatch.setattr(sys, "argv", ["aelab-train", *overrides])
        GlobalHydra.instance().clear()
        with pytest.raises(SystemExit) as exit_info:
            main()
        GlobalHydra.instance().clear()
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert exit_info.value.code == 2 and last.startswith("aelab: error: "), last
        assert expected in last
