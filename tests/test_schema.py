"""The declared config schema: every key is declared (in its class's ``SCHEMA``), every shipped
config passes, and every bad value, key or size ends in one line
``<key> must be ..., got ...; e.g. <key>=<good value>``.

Most checks compose the config with Hydra and validate it (no training); the command-line ones
run aelab-train in-process, and a few as the real console script.
"""

import functools
import re
from pathlib import Path
from typing import Literal

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from aelab.config import CONFIG_DIR
from aelab.errors import ConfigError
from aelab.models.mlp import MLPAutoencoder
from aelab.regularizers.base import Regularizer
from aelab.schema import trainer_error, validate_train_config
from aelab.schema.compression import COMPRESSION
from aelab.schema.signatures import config_keys, constructor_parameters
from aelab.schema.targets import class_schema, declared_schema, own_schema
from aelab.schema.validate import is_hydra_key
from tests.conftest import compose_config, run_cli, run_train_in_process

GiB = 2**30
ONE_LINE = re.compile(
    r"^[\w.]+( \+ [\w.]+)*( weights)? must be .+, got .+; e.g. ~?[\w.]+(=\S+)?$"
)  # the one style: "<key> must be ..., got ...; e.g. <key>=<good value>"
GROUPS = ("data", "model", "regularizer", "ordered")  # a `_target_` class each


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))


def source(cls: type) -> str:
    """Where `cls` is defined, e.g. src/aelab/models/mlp.py."""
    return f"src/{cls.__module__.replace('.', '/')}.py"


def schema_classes() -> dict[str, tuple[str, type]]:
    """Group and class of every shipped option's ``_target_``, and of each base with a SCHEMA."""
    classes = {}
    for group in GROUPS:
        for option in options(group):
            cfg = OmegaConf.load(Path(CONFIG_DIR) / group / f"{option}.yaml")
            cls = get_class(cfg.get("_target_") or cfg[group]._target_)  # or @package _global_
            for klass in cls.__mro__:
                if klass is cls or own_schema(klass) is not None:
                    classes[f"{klass.__module__}.{klass.__qualname__}"] = (group, klass)
    return classes


SCHEMA_CLASSES = schema_classes()


@functools.cache
def composed(*overrides: str):
    """`compose_config(*overrides)`, composed once per test session (read it, never change it)."""
    return compose_config(*overrides)


def validation_error(*overrides: str) -> str | None:
    """The message validating the composed config raises, or None when it passes."""
    cfg = composed(*overrides)
    HydraConfig.instance().set_config(cfg)  # as in the app: ${hydra:...} resolves
    try:
        validate_train_config(cfg)
    except ConfigError as error:
        return str(error)
    return None


@pytest.fixture
def small_memory(monkeypatch):
    """16 GiB available, whatever the machine has."""
    monkeypatch.setattr("aelab.schema.memory.available_memory", lambda: 16 * GiB)


# --- the declarations cover every key ---------------------------------------------------------
@pytest.mark.parametrize("group", [*GROUPS, "compression"])
def test_every_key_of_every_option_is_declared(group):
    for option in options(group):
        node = composed(f"{group}={option}")[group]
        where = f"conf/{group}/{option}.yaml"
        if group == "compression":
            declared = COMPRESSION.by_name
            fix = "as a Key of COMPRESSION in src/aelab/schema/compression.py"
        else:
            cls = get_class(node._target_)
            declared = declared_schema(cls).by_name
            fix = f"as a Key in the SCHEMA of {cls.__name__} in {source(cls)}"
        for key in node:
            assert is_hydra_key(key) or key in declared, (
                f"{where}: key {group}.{key} is not declared; declare its type, range or choices "
                f"and an example {fix}"
            )


@pytest.mark.parametrize("target", sorted(SCHEMA_CLASSES))
def test_declarations_match_the_constructors(target):
    group, cls = SCHEMA_CLASSES[target]
    keys = config_keys(group, cls)
    declared = declared_schema(cls).by_name
    assert set(keys) - set(declared) == set(), (
        f"constructor arguments of {target} without a declaration: declare them as Keys in "
        f"the SCHEMA of {cls.__name__} in {source(cls)}"
    )
    assert set(declared) - set(keys) == set(), f"{target} declares keys its constructor lacks"
    for name, parameter in constructor_parameters(cls).items():
        default = parameter.default
        if name in declared and default not in (parameter.empty, None):
            default = list(default) if isinstance(default, tuple) else default
            declared[name].check(group, default)  # the constructor's own default fits
    for key in declared.values():
        key.check(group, key.example)  # and so does every example


# --- the shipped configs pass -----------------------------------------------------------------
SHIPPED = [
    *(
        f"{group}={option}"
        for group in ("data", "model", "regularizer", "ordered")
        for option in options(group)
    ),
    *(f"compression={option}" for option in options("compression")),
    *(f"accelerator={option}" for option in options("accelerator")),
    *(f"experiment={option}" for option in options("experiment")),
    "debug=fast",
    "debug=tiny",
]


@pytest.mark.parametrize("override", SHIPPED)
def test_every_shipped_option_passes(override, file_overrides):
    data = override.removeprefix("data=") if override.startswith("data=") else None
    assert validation_error(override, *file_overrides(data)) is None


@pytest.mark.parametrize("model", options("model"))
@pytest.mark.parametrize("data", options("data"))
def test_every_model_and_data_recipe_passes(model, data, file_overrides):
    assert validation_error(f"model={model}", f"data={data}", *file_overrides(data)) is None


# --- classes that declare nothing: inherited declarations, then annotations --------------------
class AnnotatedAutoencoder(MLPAutoencoder):
    """A variant that declares no SCHEMA: the MLP's keys and rules, its own key by annotation."""

    def __init__(
        self, input_shape, latent_dim, width: Literal["narrow", "wide"] = "narrow", **kwargs
    ) -> None:
        super().__init__(input_shape, latent_dim, **kwargs)


class AnnotatedRegularizer(Regularizer):
    """A regularizer as a user's own package has it: annotated arguments, no SCHEMA."""

    def __init__(self, lam: float = 0.1, every: int | None = None, tag=None) -> None:
        self.lam, self.every, self.tag = lam, every, tag


VARIANT = f"model._target_={__name__}.AnnotatedAutoencoder"
PENALTY = f"regularizer._target_={__name__}.AnnotatedRegularizer"


def test_a_class_without_schema_inherits_and_reads_annotations():
    schema = class_schema("model", AnnotatedAutoencoder)
    assert schema.by_name["hidden_sizes"] is declared_schema(MLPAutoencoder).by_name["hidden_sizes"]
    assert "lr" in schema.by_name and schema.size_keys == ("hidden_sizes",)
    assert schema.rules == declared_schema(MLPAutoencoder).rules
    assert schema.by_name["width"].type.phrase == "one of narrow, wide"
    assert set(class_schema("regularizer", AnnotatedRegularizer).by_name) == {"lam", "every"}
    # a subclass's own declaration comes first: terrain's example batch size, not the base's
    terrain = get_class("aelab.data.terrain.TerrainDataModule")
    assert declared_schema(terrain).by_name["batch_size"].example == 128
    assert validation_error(VARIANT, "+model.width=wide", PENALTY, "+regularizer.every=3") is None


UNDECLARED = {
    "annotated choice": (
        [VARIANT, "+model.width=huge"],
        "model.width must be one of narrow, wide, got 'huge'; e.g. model.width=narrow",
    ),
    "inherited key": ([VARIANT, "model.lr=abc"], "model.lr must be a positive number"),
    "inherited rule": (
        [VARIANT, "model.output_activation=sigmoid"],
        "model.output_activation must be one of identity, unit_clip with model.linear_path",
    ),
    "typo": ([VARIANT, "+model.widht=wide"], "model.widht must be a key of AnnotatedAutoencoder"),
    "annotated float": (
        [PENALTY, "+regularizer.lam=abc"],
        "regularizer.lam must be a number, got 'abc'; e.g. regularizer.lam=0.1",
    ),
    "annotated optional": (
        [PENALTY, "+regularizer.every=1.5"],
        "regularizer.every must be an integer or null, got 1.5; e.g. regularizer.every=null",
    ),
}


@pytest.mark.parametrize("case", UNDECLARED)
def test_undeclared_classes_give_the_same_one_line(case):
    overrides, expected = UNDECLARED[case]
    message = validation_error(*overrides)
    assert message is not None and message.startswith(expected), message
    assert ONE_LINE.match(message), message


# --- bad input: one line naming the key and a good value ---------------------------------------
CASES = {
    "text for a float": (["model.lr=abc"], "model.lr must be a positive number, got 'abc'"),
    "zero width": (["model.hidden_sizes=[0]"], "model.hidden_sizes must be a list of positive"),
    "negative size": (["data.train_size=-1"], "data.train_size must be a positive integer"),
    "data too large": (["data.train_size=10000000000"], "data.train_size must be small enough"),
    "model too large": (
        ["model.hidden_sizes=[100000,100000]"],
        "model.hidden_sizes must be small enough for the model to fit in memory",
    ),
    "unknown activation": (["model.activation=foo"], "model.activation must be one of identity"),
    "kl unbounded": (
        ["regularizer=sparse_kl", "model.latent_activation=relu"],
        "model.latent_activation must be sigmoid with regularizer=sparse_kl",
    ),
    "epochs text": (["trainer.max_epochs=abc"], "trainer.max_epochs must be an integer >= -1"),
    "precision": (["trainer.precision=7"], "trainer.precision must be one of"),
    "unknown trainer key": (["+trainer.foo=1"], "trainer.foo must be a key of lightning.Trainer"),
    "typo key": (
        ["+model.hiden_sizes=[8]"],
        "model.hiden_sizes must be a key of MLPAutoencoder (closest: hidden_sizes)",
    ),
}
MORE_CASES = {
    "bool is not an int": (["model=conv", "model.kernel_size=true"], "model.kernel_size must be"),
    "unknown optimizer": (["model.optimizer=rmsprop"], "model.optimizer must be one of adam"),
    "unknown scheduler": (["model.scheduler=step"], "model.scheduler must be one of none"),
    "unknown output": (["model.output_activation=soft"], "model.output_activation must be one"),
    "unknown latent": (["model.latent_activation=soft"], "model.latent_activation must be one"),
    "unknown backbone": (["model=vae", "model.backbone=rnn"], "model.backbone must be one of"),
    "unknown likelihood": (["model=vae", "model.likelihood=x"], "model.likelihood must be one"),
    "bernoulli output": (
        ["model=vae", "model.likelihood=bernoulli"],
        "model.output_activation must be sigmoid with model.likelihood=bernoulli",
    ),
    "linear path output": (
        ["model.output_activation=sigmoid"],
        "model.output_activation must be one of identity, unit_clip with model.linear_path",
    ),
    "unknown noise": (["regularizer=denoising", "regularizer.kind=blur"], "regularizer.kind"),
    "low above high": (
        ["regularizer=denoising", "regularizer.low=2", "regularizer.high=1"],
        "regularizer.high must be >= regularizer.low",
    ),
    "eps above rho": (["regularizer=sparse_kl", "regularizer.eps=0.2"], "regularizer.eps must"),
    "k above latent": (["regularizer=topk", "regularizer.k=99"], "regularizer.k must be at most"),
    "injected key": (["+model.latent_dim=5"], "model.latent_dim must be left out"),
    "ratio zero": (["compression.ratio=0"], "compression.ratio must be > 0"),
    "ratio text": (["compression.ratio=big"], "compression.ratio must be a finite number"),
    "latent dim zero": (["compression.latent_dim=0"], "compression.latent_dim must be a positive"),
    "class weight": (["data.classes.flat=-1"], "data.classes weights must be >= 0"),
    "unknown class": (
        ["+data.classes.volcano=1"],
        "data.classes must be a mapping of terrain classes",
    ),
    "mnist split": (["data=mnist", "data.split=train"], "data.split must be one of official"),
    "mnist digits": (["data=mnist", "data.classes=[11]"], "data.classes must be a non-empty list"),
    "t10k too small": (
        ["data=mnist", "data.split=t10k", "data.val_size=9000", "data.test_size=2000"],
        "data.train_size + data.val_size + data.test_size must be at most the 10000",
    ),
    "conv too large": (["model=conv", "model.fc_sizes=[100000,100000]"], "model.fc_sizes must"),
    "trainer key typo": (["+trainer.max_epoch=3"], "trainer.max_epoch must be a key"),
    "batches fraction": (["+trainer.limit_train_batches=1.5"], "trainer.limit_train_batches"),
    "accelerator": (["trainer.accelerator=tpux"], "trainer.accelerator must be one of auto"),
    "no regularizer keys": (["+regularizer.foo=1"], "regularizer.foo must be a key of"),
    "endless budget": (
        ["trainer.max_steps=-1"],
        "trainer.max_steps must be a number of steps > 0 when trainer.max_epochs=-1",
    ),
    "prefixes not increasing": (
        ["ordered=nested", "ordered.prefix_sizes=[2,1]"],
        "ordered.prefix_sizes must be increasing latent counts between 1 and the latent "
        "dimension m=5, got [2, 1]; e.g. ordered.prefix_sizes=[1,2,5]",
    ),
    "prefix above m": (
        ["ordered=matryoshka", "ordered.prefix_sizes=[1,8]"],
        "ordered.prefix_sizes must be increasing latent counts between 1 and the latent "
        "dimension m=5",
    ),
    "prefix zero": (["ordered=nested", "ordered.prefix_sizes=[0,2]"], "ordered.prefix_sizes"),
    "ratio grid": (["ordered=nested", "ordered.prefix_ratios=[0]"], "ordered.prefix_ratios must"),
    "no prefixes": (
        ["ordered=matryoshka", "ordered.prefix_ratios=[]"],
        "ordered.prefix_ratios must be a non-empty list of compression ratios",
    ),
    "nested distribution": (
        ["ordered=nested", "ordered.distribution=normal"],
        "ordered.distribution must be one of uniform, geometric, prefixes",
    ),
    "geometric p": (["ordered=nested", "ordered.p=0"], "ordered.p must be a number in (0, 1]"),
    "matryoshka weights": (["ordered=matryoshka", "ordered.weights=x"], "ordered.weights must"),
    "ordered typo": (
        ["ordered=nested", "+ordered.prefix_size=[1]"],
        "ordered.prefix_size must be a key of NestedDropout (closest: prefix_sizes, prefix_ratios)",
    ),
}


@pytest.mark.parametrize("case", [*CASES, *MORE_CASES])
def test_bad_values_give_one_line_naming_the_key(case, small_memory):
    overrides, expected = {**CASES, **MORE_CASES}[case]
    message = validation_error(*overrides)
    assert message is not None and message.startswith(expected), message
    assert ONE_LINE.match(message), message
    assert not message.startswith("aelab:")  # the task runner adds the prefix


def test_the_memory_message_names_the_fix(small_memory):
    message = validation_error("data.train_size=10000000000")
    assert "16.0 GiB available" in message and message.endswith("e.g. data.train_size=20000")
    message = validation_error("model.hidden_sizes=[100000,100000]")
    assert "20,021,401,105 parameters" in message
    assert message.endswith("e.g. model.hidden_sizes=[128,64]")


@pytest.mark.parametrize("case", CASES)
def test_the_command_line_prints_the_line_and_exits_2(case, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("aelab.schema.memory.available_memory", lambda: 16 * GiB)
    overrides, expected = CASES[case]
    code, err = run_train_in_process(overrides, tmp_path, monkeypatch, capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2, err
    assert last.startswith(f"aelab: error: {expected}"), err
    assert ONE_LINE.match(last.removeprefix("aelab: error: ")), last
    assert "Traceback" not in err and err.count("aelab: error:") == 1


@pytest.mark.parametrize("override", ["model.lr=abc", "+model.hiden_sizes=[8]"])
def test_the_console_script_prints_one_line(override, tmp_path):
    done = run_cli(override, cwd=tmp_path, process=True)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2, done.stderr[-2000:]
    assert last.startswith(f"aelab: error: {override.lstrip('+').split('=')[0]} must be"), last
    assert "Traceback" not in done.stderr


# --- what Lightning itself rejects --------------------------------------------------------------
def build_trainer(**options):
    cfg = OmegaConf.create(
        {"_target_": "lightning.Trainer", "logger": False, "enable_progress_bar": False, **options}
    )
    with pytest.raises(Exception) as raised:  # noqa: PT011 - Hydra wraps Lightning's exception
        instantiate(cfg)
    return trainer_error(raised.value, cfg)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"devices": 0}, "trainer.devices must be a value lightning.Trainer accepts"),
        ({"max_time": "soon"}, "trainer.max_time must be a value"),
        ({"strategy": "ddpx"}, "trainer.strategy must be a value"),
        ({"foo": 1}, "trainer.foo must be a key of lightning.Trainer"),
    ],
)
def test_trainer_errors_become_one_line(options, expected):
    error = build_trainer(**options)
    assert isinstance(error, ConfigError)
    assert str(error).startswith(expected) and ONE_LINE.match(str(error)), str(error)


def test_other_errors_are_left_alone():
    assert trainer_error(RuntimeError("out of memory")) is None
    assert trainer_error(ValueError("nothing about the trainer")) is None
