"""One source of truth: a class built in Python is the one aelab-train builds from its config.

Every config file with a ``_target_`` (anywhere in it: conf/**/*.yaml) gives the value of each
key it sets; the constructor of that class (following ``**kwargs`` up the base classes) must
default to exactly that value, so ``MLPAutoencoder(input_shape, latent_dim)`` is the model of
``aelab-train model=mlp``. Per-dataset recipes (conf/tuning) are overrides on top: the base file
of the group is the reference. Interpolations are resolved against conf/paths/default.yaml.
"""

import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from hydra.utils import get_class
from omegaconf import OmegaConf

from aelab.config import CONFIG_DIR
from aelab.runs.build import build_run
from tests.conftest import compose_config

CONF = Path(CONFIG_DIR)
PATHS = OmegaConf.load(CONF / "paths" / "default.yaml")
UNRESOLVED = object()  # an interpolation only the running app resolves (${hydra:...})

#: constructors aelab does not own (a library's class, or an aelab subclass keeping its
#: constructor): their defaults are the library's, and the config file exists to
#: set aelab's values on them, so they differ by design
FOREIGN = {
    "lightning.Trainer": "Lightning's defaults; conf/trainer/default.yaml sets aelab's budget",
    "lightning.pytorch.callbacks.ModelCheckpoint": "Lightning's defaults; aelab sets its own",
    "aelab.callbacks.progress.RichProgressBar": "Lightning's constructor; aelab sets its values",
    "aelab.runs.tensorboard.TensorBoardLogger": "Lightning's constructor; aelab sets its values",
}
#: (target, key) of aelab's classes whose file value cannot be a constructor default, and why
#: (none today: the paths resolve against conf/paths/default.yaml to the defaults)
UNMATCHABLE: dict[tuple[str, str], str] = {}


# --- the config files and the constructors ------------------------------------------------------
def target_nodes(node: Any, where: str = "") -> list[tuple[str, dict]]:
    """Every mapping with a ``_target_`` in a config file's content, with its place in it."""
    found = []
    if isinstance(node, dict):
        if "_target_" in node:
            found.append((where, node))
        for key, value in node.items():
            found += target_nodes(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += target_nodes(value, f"{where}[{i}]")
    return found


def config_targets() -> dict[str, tuple[str, dict]]:
    """``<file>:<place>`` -> (``_target_``, its keys and values as written) for all of conf/."""
    targets = {}
    for path in sorted(CONF.rglob("*.yaml")):
        content = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        for where, node in target_nodes(content):
            name = f"{path.relative_to(CONF)}" + (f":{where}" if where else "")
            values = {k: v for k, v in node.items() if not (k.startswith("_") and k.endswith("_"))}
            targets[name] = (node["_target_"], values)
    return targets


TARGETS = config_targets()
OWN = {name: spec for name, spec in TARGETS.items() if spec[0] not in FOREIGN}


def resolved(value: Any) -> Any:
    """`value` with ``${paths.*}`` interpolations resolved as the default paths give them."""
    if not (isinstance(value, str) and "${" in value):
        return value
    try:
        return OmegaConf.create({"paths": PATHS, "value": value}).value
    except Exception:  # noqa: BLE001 - e.g. ${hydra:runtime.output_dir}, the app's alone
        return UNRESOLVED


def constructor_defaults(cls: type) -> dict[str, Any]:
    """Each named argument of ``cls(...)`` with its default (`inspect.Parameter.empty` if none):
    the class's own ``__init__``, then its bases' for as long as each passes ``**kwargs`` on
    (the first signature that names an argument gives its default)."""
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        if init is object.__init__:
            break
        parameters = list(inspect.signature(init).parameters.values())[1:]
        for p in parameters:
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                found.setdefault(p.name, p.default)
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return found


def constructor_owner(cls: type) -> str:
    """The module of the class whose ``__init__`` `cls` runs (``builtins``: none, no keys)."""
    return next(c for c in cls.__mro__ if "__init__" in vars(c)).__module__


def same(a: Any, b: Any) -> bool:
    """Equal as config values: lists and tuples alike, ints and floats alike, bools only bools."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# --- every default is the config file's value ----------------------------------------------------
def test_every_target_is_found_and_foreign_ones_are_named():
    assert {"model/mlp.yaml", "data/terrain.yaml", "ordered/nested.yaml:ordered"} <= set(TARGETS)
    assert {"regularizer/sparse_kl.yaml:regularizer", "trainer/default.yaml:plugins[0]"} <= set(
        TARGETS
    )
    foreign = {  # constructors aelab does not write (a subclass may inherit the library's)
        target
        for target, _ in TARGETS.values()
        if not constructor_owner(get_class(target)).startswith(("aelab.", "builtins"))
    }
    assert foreign == set(FOREIGN), "a class aelab does not own: name it in FOREIGN, with why"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_constructor_defaults_are_the_config_values(name):
    target, values = TARGETS[name]
    if target in FOREIGN:
        pytest.skip(f"{target}: {FOREIGN[target]}")
    cls = get_class(target)
    defaults = constructor_defaults(cls)
    wrong = []
    for key, written in values.items():
        if (target, key) in UNMATCHABLE:
            continue
        value = resolved(written)
        assert value is not UNRESOLVED, (
            f"conf/{name}: {key}: {written!r} does not resolve outside the app; list "
            f"({target!r}, {key!r}) in UNMATCHABLE with the reason"
        )
        assert key in defaults, f"conf/{name}: {key} is not an argument of {target}"
        default = defaults[key]
        if default is inspect.Parameter.empty or not same(default, value):
            shown = "no default" if default is inspect.Parameter.empty else repr(default)
            wrong.append(f"{key}: config {value!r}, constructor {shown}")
    assert not wrong, (
        f"the defaults of {target} disagree with conf/{name} (the config file is what "
        f"aelab-train uses; give the constructor the same default): " + "; ".join(wrong)
    )


def test_the_comparison_sees_a_changed_default(monkeypatch):
    """A default that drifts from its config file fails the test above."""
    from aelab.models.mlp import MLPAutoencoder

    init = MLPAutoencoder.__init__
    signature = inspect.signature(init)
    drifted = signature.replace(
        parameters=[
            p.replace(default=(256, 64)) if p.name == "hidden_sizes" else p
            for p in signature.parameters.values()
        ]
    )
    monkeypatch.setattr(init, "__signature__", drifted, raising=False)
    with pytest.raises(AssertionError, match=r"hidden_sizes: config \[128, 64\]"):
        test_constructor_defaults_are_the_config_values("model/mlp.yaml")
    assert not same([1, 2], (1, 2, 3)) and not same(True, 1) and not same(None, "null")
    assert same([128, 64], (128, 64)) and same(0.001, 1e-3) and same(None, None)


# --- a model built in Python with only its required arguments is aelab-train's -----------------
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))


def plain(value: Any) -> Any:
    """Hyperparameters as plain values: tuples as lists."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def optimisation(model) -> tuple:
    """The optimiser's class and settings, and the schedule's class, as training builds them."""
    model._trainer = SimpleNamespace(estimated_stepping_batches=10)  # Lightning's step count
    built = model.configure_optimizers()
    optimizer = built["optimizer"] if isinstance(built, dict) else built
    schedule = built["lr_scheduler"]["scheduler"] if isinstance(built, dict) else None
    group = optimizer.param_groups[0]
    return type(optimizer), group["lr"], group["weight_decay"], type(schedule)


@pytest.mark.parametrize("option", MODELS)
def test_a_model_built_in_python_is_the_one_aelab_train_builds(option):
    # the composed default (data=terrain, regularizer=none, ordered=none) without the
    # per-dataset recipe (conf/tuning), which overrides the base file on purpose
    cfg = compose_config(f"model={option}", "~tuning")
    written = OmegaConf.to_container(OmegaConf.load(CONF / "model" / f"{option}.yaml"))
    assert OmegaConf.to_container(cfg.model) == written  # nothing else changes the model
    run = build_run(cfg)
    cls = get_class(cfg.model._target_)
    torch.manual_seed(0)
    cli = run.model
    torch.manual_seed(0)
    python = cls(list(run.datamodule.input_shape), run.latent_dim)  # required arguments only
    assert type(python) is type(cli)
    assert plain(dict(python.hparams)) == plain(dict(cli.hparams))
    shapes = {name: tuple(t.shape) for name, t in python.state_dict().items()}
    assert shapes == {name: tuple(t.shape) for name, t in cli.state_dict().items()}
    assert optimisation(python) == optimisation(cli)
    assert (getattr(python, "pca_path", None) is None) == (getattr(cli, "pca_path", None) is None)


# --- checks once: a bad value given in Python gets the command line's line ------------------------
def cli_error(*overrides: str) -> str:
    """The line aelab-train's schema gives for `overrides` (validated, nothing trained)."""
    from hydra.core.hydra_config import HydraConfig

    from aelab.errors import ConfigError
    from aelab.schema import validate_train_config

    cfg = compose_config(*overrides)
    HydraConfig.instance().set_config(cfg)  # as in the app: ${hydra:...} resolves
    try:
        validate_train_config(cfg)
    except ConfigError as error:
        return str(error)
    finally:
        HydraConfig.instance().cfg = None
    raise AssertionError(f"{overrides} passed the schema")


def python_error(make) -> str:
    from aelab.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        make()
    return str(raised.value)


def _model(name: str, **settings):
    """A model of terrain's default size (n = 100, m = 5), as aelab-train builds it."""
    cls = get_class(
        {
            "mlp": "aelab.models.mlp.MLPAutoencoder",
            "conv": "aelab.models.conv.ConvAutoencoder",
            "linear": "aelab.models.linear.LinearAutoencoder",
            "vae": "aelab.models.vae.VariationalAutoencoder",
        }[name]
    )
    return lambda: cls([1, 10, 10], 5, **settings)


def _make(target: str, **settings):
    return lambda: get_class(target)(**settings)


REG = "aelab.regularizers"
SAME_LINE = {
    "lr": (_model("mlp", lr=-0.1), ["model.lr=-0.1"]),
    "scheduler": (_model("mlp", scheduler="step"), ["model.scheduler=step"]),
    "hidden sizes": (_model("mlp", hidden_sizes=[16, 0]), ["model.hidden_sizes=[16,0]"]),
    "activation": (_model("mlp", activation="swish2"), ["model.activation=swish2"]),
    "linear path output": (
        _model("mlp", output_activation="sigmoid"),
        ["model.output_activation=sigmoid"],
    ),
    "kernel size": (_model("conv", kernel_size=1), ["model=conv", "model.kernel_size=1"]),
    "variant": (_model("linear", variant="kernel"), ["model=linear", "model.variant=kernel"]),
    "beta": (_model("vae", beta=-1.0), ["model=vae", "model.beta=-1.0"]),
    "sigma": (_model("vae", sigma=0.0), ["model=vae", "model.sigma=0.0"]),
    "bernoulli output": (
        _model("vae", likelihood="bernoulli"),
        ["model=vae", "model.likelihood=bernoulli"],
    ),
    "noise sigma": (
        _make(f"{REG}.noise.Denoising", sigma=-0.1),
        ["regularizer=denoising", "regularizer.sigma=-0.1"],
    ),
    "low above high": (
        _make(f"{REG}.noise.Denoising", low=2.0, high=1.0),
        ["regularizer=denoising", "regularizer.low=2.0", "regularizer.high=1.0"],
    ),
    "projections": (
        _make(f"{REG}.contractive.Contractive", projections=0),
        ["regularizer=contractive", "regularizer.projections=0"],
    ),
    "rho": (
        _make(f"{REG}.sparsity.SparseKL", rho=1.5),
        ["regularizer=sparse_kl", "regularizer.rho=1.5"],
    ),
    "eps above rho": (
        _make(f"{REG}.sparsity.SparseKL", eps=0.2),
        ["regularizer=sparse_kl", "regularizer.eps=0.2"],
    ),
    "dead window": (
        _make(f"{REG}.sparsity.SparseL1", dead_window=0),
        ["regularizer=sparse_l1", "regularizer.dead_window=0"],
    ),
    "kl unbounded": (
        lambda: _model("mlp", regularizer=get_class(f"{REG}.sparsity.SparseKL")())(),
        ["regularizer=sparse_kl", "model.latent_activation=identity"],
    ),
    "k zero": (_make(f"{REG}.sparsity.TopK", k=0), ["regularizer=topk", "regularizer.k=0"]),
    "k above latent": (
        lambda: _model("mlp", regularizer=get_class(f"{REG}.sparsity.TopK")(k=99))(),
        ["regularizer=topk", "regularizer.k=99"],
    ),
    "batch size": (
        _make("aelab.data.terrain.TerrainDataModule", batch_size=0),
        ["data.batch_size=0"],
    ),
    "terrain sizes": (
        _make("aelab.data.terrain.TerrainDataModule", val_size=-5),
        ["data.val_size=-5"],
    ),
    "terrain offset": (
        _make("aelab.data.terrain.TerrainDataModule", mountain_offset="valley"),
        ["data.mountain_offset=valley"],
    ),
    "mnist split": (
        _make("aelab.data.mnist.MNISTDataModule", split="train"),
        ["data=mnist", "data.split=train"],
    ),
    "mnist digits": (
        _make("aelab.data.mnist.MNISTDataModule", classes=[11]),
        ["data=mnist", "data.classes=[11]"],
    ),
    "kmnist classes": (
        _make("aelab.data.kmnist.KMNISTDataModule", classes=["hiragana"]),
        ["data=kmnist", "data.classes=[hiragana]"],
    ),
    "mnist train size": (
        _make("aelab.data.mnist.MNISTDataModule", train_size=0),
        ["data=mnist", "data.train_size=0"],
    ),
}


@pytest.mark.parametrize("case", SAME_LINE)
def test_a_bad_value_in_python_gets_the_command_lines_line(case):
    make, overrides = SAME_LINE[case]
    message = python_error(make)
    assert "\n" not in message
    assert message == cli_error(*overrides)


@pytest.mark.parametrize(
    ("ratio", "latent_dim", "overrides"),
    [(0, None, ["compression.ratio=0"]), (0.05, 0, ["compression.latent_dim=0"])],
)
def test_the_latent_size_gets_the_command_lines_line(ratio, latent_dim, overrides):
    from aelab.compression import latent_size

    message = python_error(lambda: latent_size(ratio, 100, latent_dim))
    assert message == cli_error(*overrides)
