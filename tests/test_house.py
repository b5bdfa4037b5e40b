"""The house rules: a new variant or regularizer is one module plus one config file.

Both are added here from outside the repository (a module on PYTHONPATH, a config file on
Hydra's search path) and trained by the unchanged `aelab-train`; models never read the data.
"""

import textwrap
from pathlib import Path

import pytest

import aelab
from tests.conftest import TINY_TERRAIN, load_results, run_cli

VARIANT = '''
"""A wide one-layer MLP autoencoder: the example of docs/adding-a-variant.md."""

from torch import Tensor

from aelab.models import layers
from aelab.models.backbones import build_stacks
from aelab.models.base import AutoencoderModule


class WideAutoencoder(AutoencoderModule):
    def __init__(self, input_shape, latent_dim, hidden_sizes=(64,), **kwargs) -> None:
        super().__init__(input_shape, latent_dim, **kwargs)
        stacks = build_stacks("mlp", self.input_shape, latent_dim, hidden_sizes=hidden_sizes)
        self.encoder, self.decoder = stacks.encoder, stacks.decoder

    def _encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z).view(-1, *self.input_shape)
'''

REGULARIZER = '''
"""An L2 penalty on the code: the example of docs/adding-a-regularizer.md."""

from aelab.regularizers.base import Regularizer, Step


class CodeL2(Regularizer):
    name = "code_l2"

    def __init__(self, lam: float = 0.1) -> None:
        self.lam = lam

    def penalty(self, step: Step):
        return {"code_l2": self.lam * step.z.pow(2).sum(dim=1).mean()}
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch) -> Path:
    """A package `myaelab` with one variant and one regularizer, and their two config files."""
    package = tmp_path / "plugin" / "myaelab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "wide.py").write_text(textwrap.dedent(VARIANT))
    (package / "code_l2.py").write_text(textwrap.dedent(REGULARIZER))
    conf = tmp_path / "plugin" / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "regularizer").mkdir()
    (conf / "model" / "wide.yaml").write_text(
        "_target_: myaelab.wide.WideAutoencoder\nhidden_sizes: [32]\nlr: 0.003\n"
    )
    (conf / "regularizer" / "code_l2.yaml").write_text(
        "_target_: myaelab.code_l2.CodeL2\nlam: 0.01\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "plugin"))
    return conf


def test_a_variant_and_a_regularizer_are_one_module_and_one_config_each(plugin, tmp_path):
    done = run_cli(
        *TINY_TERRAIN,
        f"hydra.searchpath=[file://{plugin}]",
        "model=wide",
        "regularizer=code_l2",
        "logger=[]",
        "hydra.run.dir=run",
        cwd=tmp_path,
        process=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (result,) = load_results(tmp_path / "run")
    metrics = result["metrics"]
    assert result["status"] == "ok"
    assert metrics["train/code_l2"] > 0 and metrics["val/code_l2"] > 0
    # the baselines come beside any variant, with no code in it
    assert metrics["test/pca_mse"] > 0 and metrics["test/mse_over_pca"] > 0
    evaluation = run_cli(
        f"ckpt_path={tmp_path / 'run'}",
        "task=[reconstruction]",
        "hydra.run.dir=eval",
        command="aelab-eval",
        cwd=tmp_path,
        process=True,
    )
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]


def test_models_never_read_the_data_module():
    models = Path(aelab.__file__).parent / "models"
    readers = [p.name for p in models.glob("*.py") if "datamodule" in p.read_text()]
    assert not readers, f"{readers} read the DataModule; hand the model what it needs instead"
