"""The declared schema: every key of every data, model and regularizer class, and of compression.

One `Target` per ``_target_`` class, keyed by its dotted path. Which keys a class takes comes from
its constructor (`aelab.schema.signatures`, checked by tests/test_schema.py against these
tables); their types, ranges, choices and examples are declared here. Choices come from the
modules that use them, so a new activation or optimizer is accepted once it is implemented.
A new class or key is declared here, next to its kind.
"""

from typing import Any

from aelab.data.mnist import SPLITS
from aelab.data.terrain import CLASS_NAMES, DESCRIPTOR_NAMES, OFFSETS, PARAM_NAMES
from aelab.models.backbones import BACKBONES
from aelab.models.base import LINEAR_PATH_OUTPUTS, OPTIMIZERS, SCHEDULERS
from aelab.models.layers import ACTIVATIONS
from aelab.models.linear import VARIANTS
from aelab.models.vae import LIKELIHOODS
from aelab.regularizers.noise import KINDS
from aelab.schema.keys import Context, Key, Target
from aelab.schema.message import violation
from aelab.schema.types import (
    Choice,
    Flag,
    Integer,
    Members,
    Number,
    Sizes,
    Text,
    Weights,
)

MNIST_IMAGES = {"official": (60000, 10000), "t10k": (0, 10000)}  # (train file, test file)
FLOAT_BYTES = 4  # inputs are float32
LABEL_BYTES = 8  # int64 class ids


# --- data ------------------------------------------------------------------------------------
def _loader_keys(batch_size: int) -> tuple[Key, ...]:
    return (
        Key("batch_size", Integer(ge=1), batch_size),
        Key(
            "eval_batch_size",
            Integer(ge=1),
            1024,
            nullable=True,
            note="(null: max(batch_size, 1024))",
        ),
        Key("seed", Integer(ge=0), 1234),
    )


def _split_keys(train_size: int, nullable_train: bool) -> tuple[Key, ...]:
    return (
        Key("train_size", Integer(ge=1), train_size, nullable=nullable_train),
        Key("val_size", Integer(ge=1), 1000),
        Key("test_size", Integer(ge=1), 1000),
    )


def _terrain_splits(values: dict[str, Any]) -> dict[str, int]:
    return {key: values[key] for key in ("train_size", "val_size", "test_size")}


def _terrain_sample_bytes(input_dim: int) -> int:
    """Heights, then parameters and descriptors (float32), and the label."""
    return FLOAT_BYTES * (input_dim + len(PARAM_NAMES) + len(DESCRIPTOR_NAMES)) + LABEL_BYTES


def _image_sample_bytes(input_dim: int) -> int:
    return FLOAT_BYTES * input_dim + LABEL_BYTES


def _mnist_splits(values: dict[str, Any]) -> dict[str, int]:
    """Samples per split key, as `MNISTDataModule.build_splits` carves them from the files."""
    train_file, test_file = MNIST_IMAGES[values["split"]]
    val, test = values["val_size"], values["test_size"]
    if values["split"] == "t10k":
        train = values["train_size"] or test_file - val - test
    else:
        train = values["train_size"] or train_file - val
        test = min(test, test_file)
    return {"train_size": train, "val_size": val, "test_size": test}


def _mnist_sizes_fit(ctx: Context) -> None:
    """The splits fit in the fixed MNIST files (official: 60k train / 10k test; t10k: 10k)."""
    split, val, test = ctx["data.split"], ctx["data.val_size"], ctx["data.test_size"]
    train_file, test_file = MNIST_IMAGES[split]
    if split == "official" and val >= train_file:
        raise violation(
            "data.val_size",
            f"smaller than the {train_file} training images (the rest trains)",
            val,
            1000,
        )
    total = (ctx["data.train_size"] or 1) + val + test
    if split == "t10k" and total > test_file:
        raise violation(
            "data.train_size + data.val_size + data.test_size",
            f"at most the {test_file} images of the t10k file (one at least to train)",
            total,
            1000,
            example_key="data.val_size",
        )


CLASS_WEIGHTS = Weights(CLASS_NAMES, "terrain class", "terrain classes")
TERRAIN = Target(
    keys=(
        Key("resolution", Integer(ge=2), 10, note="(grid points per side)"),
        Key("classes", CLASS_WEIGHTS, dict.fromkeys(CLASS_NAMES, 1), nullable=True),
        Key("mountain_offset", Choice(OFFSETS), "uniform"),
        Key("roughness_scale", Number(ge=0), 1.0),
        *_split_keys(20000, nullable_train=False),
        *_loader_keys(128),
        Key("test_mountain_offset", Choice(OFFSETS), "summit", nullable=True),
        Key("test_classes", CLASS_WEIGHTS, dict.fromkeys(CLASS_NAMES, 1), nullable=True),
    ),
    split_sizes=_terrain_splits,
    sample_bytes=_terrain_sample_bytes,
)

MNIST = Target(
    keys=(
        Key("data_dir", Text(), "data/mnist"),
        Key("split", Choice(SPLITS), "official"),
        Key("download", Flag(), True),
        *_split_keys(50000, nullable_train=True),
        Key("digits", Members(range(10), "a non-empty list of digits 0..9"), [3], nullable=True),
        *_loader_keys(256),
    ),
    rules=(_mnist_sizes_fit,),
    split_sizes=_mnist_splits,
    sample_bytes=_image_sample_bytes,
)


# --- models ----------------------------------------------------------------------------------
def _activation(name: str, example: str) -> Key:
    return Key(name, Choice(ACTIVATIONS), example)


OPTIMISATION = (  # every autoencoder (AutoencoderModule)
    _activation("latent_activation", "identity"),
    Key("optimizer", Choice(OPTIMIZERS), "adam"),
    Key("lr", Number(gt=0), 0.002),
    Key("weight_decay", Number(ge=0), 0.0),
    Key("scheduler", Choice(SCHEDULERS), "cosine"),
)
NETWORK = (
    _activation("activation", "relu"),
    _activation("output_activation", "identity"),
)
CONV = (
    Key("channels", Sizes(allow_empty=False), [32, 64]),
    Key("kernel_size", Integer(ge=2), 3),
    Key("fc_sizes", Sizes(), [128]),
)
LINEAR_PATH = Key("linear_path", Flag(), True, note="(a linear path started at PCA)")


def _linear_path_output(ctx: Context) -> None:
    """The output activation acts on the PCA reconstruction too: it must leave it as it is."""
    output = ctx["model.output_activation"]
    if ctx["model.linear_path"] and output not in LINEAR_PATH_OUTPUTS:
        raise violation(
            "model.output_activation",
            f"one of {', '.join(LINEAR_PATH_OUTPUTS)} with model.linear_path=true (the output "
            "starts at the PCA reconstruction; or set model.linear_path=false)",
            repr(output),
            "unit_clip",
        )


def _bernoulli_output(ctx: Context) -> None:
    output = ctx["model.output_activation"]
    if ctx["model.likelihood"] == "bernoulli" and output != "sigmoid":
        raise violation(
            "model.output_activation",
            "sigmoid with model.likelihood=bernoulli (the decoder gives pixel probabilities; "
            "or use model.likelihood=gaussian)",
            repr(output),
            "sigmoid",
        )


LINEAR_MODEL = Target(
    keys=(Key("variant", Choice(VARIANTS), "pca"), *OPTIMISATION),
)
MLP_MODEL = Target(
    keys=(
        Key("hidden_sizes", Sizes(allow_empty=False), [128, 64]),
        *NETWORK,
        LINEAR_PATH,
        *OPTIMISATION,
    ),
    rules=(_linear_path_output,),
    size_keys=("hidden_sizes",),
)
CONV_MODEL = Target(
    keys=(*CONV, *NETWORK, LINEAR_PATH, *OPTIMISATION),
    rules=(_linear_path_output,),
    size_keys=("channels", "fc_sizes"),
)
VAE_MODEL = Target(
    keys=(
        Key("backbone", Choice(BACKBONES), "mlp"),
        Key("likelihood", Choice(LIKELIHOODS), "gaussian"),
        Key("beta", Number(ge=0), 1.0),
        Key("sigma", Number(gt=0), 0.05, nullable=True, note="(null: plain squared error)"),
        Key("hidden_sizes", Sizes(), [256, 64]),
        *CONV,
        *NETWORK,
        Key("num_images", Integer(ge=2), 8),
        *OPTIMISATION,
    ),
    rules=(_bernoulli_output,),
    size_keys=("hidden_sizes", "channels", "fc_sizes"),
)


# --- regularizers ----------------------------------------------------------------------------
SPARSITY = (
    Key("threshold", Number(ge=0), 0.0, note="(|z| above it counts as active)"),
    Key("dead_window", Integer(ge=1), 10000, note="(training samples)"),
)
LAM = Key("lam", Number(ge=0), 0.1, note="(penalty weight)")


def _low_below_high(ctx: Context) -> None:
    low, high = ctx["regularizer.low"], ctx["regularizer.high"]
    if high < low:
        raise violation(
            "regularizer.high", ">= regularizer.low", f"low={low!r}, high={high!r}", max(low, 1.0)
        )


def _eps_below_rho(ctx: Context) -> None:
    rho, eps = ctx["regularizer.rho"], ctx["regularizer.eps"]
    bound = min(rho, 1 - rho)
    if eps >= bound:
        raise violation(
            "regularizer.eps", f"a number in (0, min(rho, 1 - rho)) = (0, {bound:g})", eps, 1e-6
        )


def _sigmoid_latent(ctx: Context) -> None:
    latent = ctx["model.latent_activation"]
    if latent != "sigmoid":
        raise violation(
            "model.latent_activation",
            "sigmoid with regularizer=sparse_kl (its penalty needs latents in (0, 1); or use "
            "regularizer=sparse_l1 / topk for unbounded latents)",
            repr(latent),
            "sigmoid",
        )


def _k_within_latent(ctx: Context) -> None:
    k, m = ctx["regularizer.k"], ctx.latent_dim
    if k > m:
        raise violation(
            "regularizer.k",
            f"at most the latent dimension m={m} (or raise compression.ratio)",
            k,
            min(4, m),
        )


DENOISING = Target(
    keys=(
        Key("kind", Choice(KINDS), "gaussian"),
        Key("sigma", Number(ge=0), 0.3, note="(the Gaussian noise std)"),
        Key("p", Number(ge=0, le=1), 0.25, note="(fraction of pixels corrupted)"),
        Key("low", Number(), 0.0),
        Key("high", Number(), 1.0),
    ),
    rules=(_low_below_high,),
)
SPARSE_KL = Target(
    keys=(
        Key("rho", Number(gt=0, lt=1), 0.05, note="(the target mean activation)"),
        LAM,
        Key("eps", Number(gt=0, lt=0.5), 1e-6),
        *SPARSITY,
    ),
    rules=(_eps_below_rho, _sigmoid_latent),
)
SPARSE_L1 = Target(keys=(LAM, *SPARSITY))
CONTRACTIVE = Target(
    keys=(
        LAM,
        Key("exact_max_dim", Integer(ge=0), 16, note="(largest latent size computed exactly)"),
        Key("projections", Integer(ge=1), 4, note="(random projections per sample)"),
    )
)
TOPK = Target(
    keys=(Key("k", Integer(ge=1), 4, note="(latents kept per sample)"), *SPARSITY),
    rules=(_k_within_latent,),
)


TARGETS: dict[str, Target] = {
    "aelab.data.terrain.TerrainDataModule": TERRAIN,
    "aelab.data.mnist.MNISTDataModule": MNIST,
    "aelab.models.linear.LinearAutoencoder": LINEAR_MODEL,
    "aelab.models.mlp.MLPAutoencoder": MLP_MODEL,
    "aelab.models.conv.ConvAutoencoder": CONV_MODEL,
    "aelab.models.vae.VariationalAutoencoder": VAE_MODEL,
    "aelab.regularizers.base.Regularizer": Target(keys=()),
    "aelab.regularizers.noise.Denoising": DENOISING,
    "aelab.regularizers.sparsity.SparseKL": SPARSE_KL,
    "aelab.regularizers.sparsity.SparseL1": SPARSE_L1,
    "aelab.regularizers.sparsity.TopK": TOPK,
    "aelab.regularizers.contractive.Contractive": CONTRACTIVE,
}

# compression has no _target_: its keys are read by aelab.compression.latent_size
COMPRESSION = Target(
    keys=(
        Key(
            "ratio",
            Number(
                gt=0,
                phrase="> 0 (eta = latent dim / input dim)",
                type_phrase="a finite number",
            ),
            0.05,
        ),
        Key("latent_dim", Integer(ge=1), 5, nullable=True, note="(null: from the ratio)"),
    )
)
