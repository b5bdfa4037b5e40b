"""Every bad input gets one clear line naming the problem, a non-zero exit, no traceback,
and no result.json claiming success. Run in-process (fast); test_train.py checks the CLI."""

import gzip
from pathlib import Path

import pytest

from tests.conftest import load_results, run_train_in_process

TINY = ["data.train_size=64", "data.val_size=32", "data.test_size=32", "trainer.max_epochs=1"]


@pytest.fixture
def broken_mnist(tmp_path: Path, mnist_dir: Path) -> dict[str, Path]:
    truncated = tmp_path / "truncated"
    foreign = tmp_path / "foreign"
    for folder in (truncated, foreign):
        folder.mkdir()
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            (folder / name).write_bytes((mnist_dir / name).read_bytes())
    data = (truncated / "t10k-images-idx3-ubyte.gz").read_bytes()
    (truncated / "t10k-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 3])
    (foreign / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"GIF89a" + bytes(64)))
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00" * 100)
    return {"truncated": truncated, "foreign": foreign, "corrupt": corrupt, "good": mnist_dir}


MNIST = [
    "data=mnist",
    "data.split=t10k",
    "data.download=false",
    "data.val_size=20",
    "data.test_size=20",
]

CASES = {
    "unknown option": (["model=transformer"], "model must be one of conv, linear, mlp, vae"),
    "unknown key": (["model.hiden_sizes=[8]"], "hiden_sizes"),
    "ratio zero": (["compression.ratio=0"], "compression.ratio must be > 0"),
    "ratio negative": (["compression.ratio=-1"], "compression.ratio must be > 0"),
    "ratio nan": (["compression.ratio=nan"], "compression.ratio must be a finite number"),
    "ratio text": (["compression.ratio=big"], "compression.ratio must be a finite number"),
    "latent too large": (["compression.ratio=1e9"], "lower compression.ratio"),
    "latent dim zero": (["compression.latent_dim=0"], "compression.latent_dim must be a positive"),
    "empty hidden": (["model.hidden_sizes=[]"], "model.hidden_sizes must be a list of positive"),
    "negative hidden": (
        ["model.hidden_sizes=[16,-2]"],
        "model.hidden_sizes must be a list of positive",
    ),
    "negative lr": (["model.lr=-0.1"], "model.lr must be a positive number"),
    "negative noise": (["regularizer=denoising", "regularizer.sigma=-0.1"], "regularizer.sigma"),
    "rho above one": (["regularizer=sparse_kl", "regularizer.rho=1.5"], "regularizer.rho"),
    "rho zero": (["regularizer=sparse_kl", "regularizer.rho=0"], "regularizer.rho"),
    "topk zero": (["regularizer=topk", "regularizer.k=0"], "regularizer.k"),
    "topk above latent": (["regularizer=topk", "regularizer.k=99"], "regularizer.k"),
    "kl unbounded": (["regularizer=sparse_kl", "model.latent_activation=relu"], "sigmoid"),
    "weights all zero": (
        ["data.classes={flat:0,sea:0,hills:0,mountain:0,urban:0}"],
        "data.classes weights",
    ),
    "weight negative": (["data.classes.flat=-1"], "data.classes weights"),
    "unknown class": (["+data.classes.volcano=1"], "unknown terrain class 'volcano'"),
    "unknown offset": (["data.mountain_offset=valley"], "data.mountain_offset must be one of"),
    "resolution one": (["data.resolution=1"], "data.resolution must be an integer >= 2"),
    "batch size zero": (["data.batch_size=0"], "data.batch_size must be a positive integer"),
    "val size negative": (["data.val_size=-5"], "data.val_size must be a positive integer"),
    "gpu absent": (["accelerator=gpu"], "no CUDA GPU is visible"),
    "checkpoint missing": (["ckpt_path=/nonexistent/run"], "does not exist"),
}


REFUSED_AT_COMPOSITION = {"unknown option", "unknown key"}  # before any job: no result.json


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_train_input(case, tmp_path, monkeypatch, capsys):
    overrides, expected = CASES[case]
    code, err = run_train_in_process([*TINY, *overrides], tmp_path, monkeypatch, capsys)
    assert code != 0
    assert expected in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("aelab: error:")]) == 1
    results = load_results(tmp_path)
    if case in REFUSED_AT_COMPOSITION:
        assert results == []
    else:
        assert results and all(r["status"] == "failed" for r in results)


@pytest.mark.parametrize(
    ("case", "extra", "expected"),
    [
        (
            "missing dir",
            ["data.data_dir=/nonexistent/mnist"],
            "MNIST files not found in /nonexistent/mnist",
        ),
        ("truncated gz", ["data.data_dir={truncated}"], "truncated or corrupt"),
        ("wrong magic", ["data.data_dir={foreign}"], "bad magic number"),
        ("split too large", ["data.data_dir={good}", "data.val_size=290"], "exceed"),
        (
            "corrupt checkpoint",
            ["data.data_dir={good}", "ckpt_path={corrupt}"],
            "cannot read checkpoint",
        ),
    ],
)
def test_bad_data_input(case, extra, expected, broken_mnist, tmp_path, monkeypatch, capsys):
    extra = [e.format(**broken_mnist) for e in extra]
    code, err = run_train_in_process([*TINY, *MNIST, *extra], tmp_path, monkeypatch, capsys)
    assert code == 2
    assert expected in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("aelab: error:")]) == 1
    results = load_results(tmp_path)
    assert results and all(r["status"] == "failed" for r in results)
