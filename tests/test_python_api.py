"""The Python API: ``aelab.load`` and the run it gives a notebook (docs/python-api.md)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import aelab
from aelab.errors import ConfigError
from aelab.models.base import AutoencoderModule
from aelab.ordered.base import pad_code
from aelab.runs.checkpoints import resolve_checkpoint
from tests.ordered_runs import M, trained_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mlp_run(tmp_path_factory) -> Path:
    return trained_run("mlp", tmp_path_factory)


@pytest.fixture(scope="module")
def run(mlp_run):
    return aelab.load(mlp_run)


@pytest.fixture(scope="module")
def x(run) -> torch.Tensor:
    return run.data("test")["x"][:50]


def test_import_aelab_imports_no_torch():
    code = "import sys, aelab; print(callable(aelab.load), 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "False"], done.stderr


def test_load_gives_the_model_its_data_and_sizes(run, mlp_run):
    assert (run.m, run.n, run.input_shape) == (M, 100, (1, 10, 10))
    assert run.prefix_sizes == [1, 2, 5, 10] and run.prefix is None and run.latent_dim == M
    assert isinstance(run.model, AutoencoderModule) and not run.model.training
    assert run.config["ordered"]["_target_"] == "aelab.ordered.nested.NestedDropout"
    assert run.checkpoint == resolve_checkpoint(mlp_run)
    assert aelab.load(run.checkpoint).checkpoint == run.checkpoint  # a .ckpt file alike
    assert len(run.data("test")["x"]) == 256 and run.datamodule.input_shape == (1, 10, 10)


def test_encode_takes_tensors_numpy_and_flat_inputs(run, x):
    codes = run.encode(x, k=8)
    assert codes.shape == (50, 8) and codes.device.type == "cpu"
    assert torch.equal(codes, run.model.embed(x, 8))
    assert torch.equal(run.encode(x.numpy(), k=8), codes)
    assert torch.equal(run.encode(x.flatten(1), k=8), codes)
    assert torch.allclose(run.encode(x.double().numpy(), k=8), codes)
    assert run.encode(x).shape == (50, M)
    assert torch.equal(run.encode(x)[:, :8], codes)  # a prefix of the whole code


def test_decode_pads_the_code_and_reconstruct_is_decode_of_encode(run, x):
    z = run.encode(x, k=5)
    decoded = run.decode(z)
    assert decoded.shape == (50, 1, 10, 10)
    assert torch.equal(decoded, run.model.decode(pad_code(z, M)))
    assert torch.equal(run.decode(z.numpy()), decoded)
    assert torch.equal(run.reconstruct(x, k=5), decoded)
    assert torch.equal(run.reconstruct(x), run.decode(run.encode(x)))
    assert not torch.allclose(run.reconstruct(x), decoded)  # 5 latents are not 10


@pytest.mark.parametrize("k", [0, -1, 11, 2.5, True, "8"])
def test_a_bad_k_is_one_clear_error(run, x, k):
    with pytest.raises(ConfigError, match=rf"k={re.escape(repr(k))} does not fit .*10 latents"):
        run.encode(x, k=k)
    with pytest.raises(ConfigError, match="give an integer from 1 to 10"):
        run.reconstruct(x, k=k)


def test_inputs_and_codes_of_another_shape_are_refused(run, x):
    with pytest.raises(ConfigError, match=r"inputs of shape \(50, 99\).*\(N, 1, 10, 10\)"):
        run.encode(x.flatten(1)[:, :99])
    with pytest.raises(ConfigError, match=r"codes of shape \(4, 11\).*k from 1 to 10"):
        run.decode(torch.zeros(4, 11))
    with pytest.raises(ConfigError, match=r"codes of shape \(10,\)"):
        run.decode(torch.zeros(10))


def test_data_gives_every_split_and_all(run):
    every = run.data("all")
    assert len(every["x"]) == 512 + 128 + 256 and set(every) >= {"x", "label", "split"}
    assert torch.bincount(every["split"]).tolist() == [512, 128, 256]
    assert torch.equal(every["x"][-256:], run.data("test")["x"])
    with pytest.raises(ConfigError, match="unknown split 'tests'; choose train, val, test or all"):
        run.data("tests")


def test_load_at_a_prefix_gives_k_dimensional_codes(mlp_run, run, x):
    at_5 = aelab.load(mlp_run, prefix=5)
    assert (at_5.prefix, at_5.latent_dim, at_5.m) == (5, 5, M)
    assert torch.equal(at_5.encode(x), run.encode(x, k=5))
    assert torch.equal(at_5.reconstruct(x), run.reconstruct(x, k=5))
    assert at_5.encode(x, k=2).shape == (50, 2)
    with pytest.raises(ConfigError, match="k=6 does not fit"):
        at_5.encode(x, k=6)
    with pytest.raises(ConfigError, match="prefix=0 does not fit"):
        aelab.load(mlp_run, prefix=0)


def test_devices(mlp_run, run, x):
    auto = aelab.load(mlp_run, device="auto")
    assert auto.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        aelab.load(mlp_run, device="tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_run_on_the_gpu_returns_cpu_tensors(mlp_run, run, x):
    gpu = aelab.load(mlp_run, device="cuda")
    codes = gpu.encode(x, k=5)
    assert codes.device.type == "cpu" and gpu.device.type == "cuda"
    assert torch.allclose(codes, run.encode(x, k=5), atol=1e-5)
    assert torch.allclose(gpu.decode(codes), run.decode(codes), atol=1e-5)


def test_the_notebook_example_of_the_docs_runs(mlp_run, tmp_path, monkeypatch, capsys):
    text = (ROOT / "docs" / "python-api.md").read_text()
    example = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    example = re.sub(r'aelab\.load\("[^"]*"\)', f'aelab.load("{mlp_run}")', example)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "python-api.md", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("10 100 (1, 10, 10) [1, 2, 5, 10]")
    saved = np.load(tmp_path / "codes_test_k8.npz")
    assert saved["codes"].shape == (256, 8) and saved["labels"].shape == (256,)
