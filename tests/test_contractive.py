"""The contractive penalty lam * ||dz/dx||_F^2: exact against finite differences for every variant,
the random-projection estimate against the exact value, its config errors, and training runs."""

import math

import pytest
import torch
from hydra.utils import instantiate

from aelab.errors import ConfigError
from aelab.models.conv import ConvAutoencoder
from aelab.models.linear import LinearAutoencoder
from aelab.models.mlp import MLPAutoencoder
from aelab.models.vae import VariationalAutoencoder
from aelab.regularizers.base import Step
from aelab.regularizers.contractive import Contractive, jacobian_sq_norm
from tests.conftest import compose_config, load_results, run_cli

SHAPE = [1, 4, 4]
VARIANTS = {
    "linear": lambda: LinearAutoencoder(SHAPE, 3),
    "mlp": lambda: MLPAutoencoder(SHAPE, 3, hidden_sizes=[8], activation="tanh", linear_path=False),
    "conv": lambda: ConvAutoencoder(
        SHAPE, 3, channels=[4], fc_sizes=[8], activation="tanh", linear_path=False
    ),
    "vae": lambda: VariationalAutoencoder(SHAPE, 3, hidden_sizes=[8], activation="tanh"),
}


def tiny(variant: str):
    """A tiny model in float64 (finite differences need the precision) and a batch for it."""
    torch.manual_seed(0)
    model = VARIANTS[variant]().double()
    x = torch.randn(6, *SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return model, x


def code_of(model):
    """The code the penalty differentiates: the posterior mean for a VAE, else the encoding."""
    if isinstance(model, VariationalAutoencoder):
        return lambda x: model.posterior(x)[0]
    return model.encode


def finite_difference_sq_norm(encode, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-sample ||J||_F^2 from central differences, one input coordinate at a time."""
    flat = x.flatten(1)
    total = torch.zeros(len(x), dtype=x.dtype)
    with torch.no_grad():
        for k in range(flat.shape[1]):
            step = torch.zeros_like(flat)
            step[:, k] = eps
            plus, minus = encode((flat + step).view_as(x)), encode((flat - step).view_as(x))
            total += ((plus - minus) / (2 * eps)).pow(2).sum(dim=1)
    return total


def penalty(regularizer: Contractive, model, x: torch.Tensor, train: bool) -> torch.Tensor:
    step = Step(z=model.encode(x), x=x, x_in=x, model=model, train=train)
    return regularizer.penalty(step)["contractive"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_exact_penalty_matches_a_finite_difference_jacobian(variant):
    model, x = tiny(variant)
    expected = finite_difference_sq_norm(code_of(model), x)
    torch.testing.assert_close(jacobian_sq_norm(model.encode, x, exact=True), expected)
    found = penalty(Contractive(lam=0.5), model, x, train=True)
    assert found.item() == pytest.approx(0.5 * expected.mean().item(), rel=1e-7)


def test_a_linear_codes_penalty_is_lam_times_the_squared_norm_of_its_weights():
    model, x = tiny("linear")  # z = A (x - mu): J = A for every sample
    weights = model.encoder.weight
    found = penalty(Contractive(lam=0.3), model, x, train=False)
    assert found.item() == pytest.approx(0.3 * weights.pow(2).sum().item(), rel=1e-10)


def test_the_estimate_is_unbiased():
    model, x = tiny("mlp")
    exact = jacobian_sq_norm(model.encode, x, exact=True)
    torch.manual_seed(2)
    one_draw = torch.stack([jacobian_sq_norm(model.encode, x, exact=False) for _ in range(3)])
    assert (one_draw.std(dim=0) > 0.01 * exact).all()  # a single projection is noisy
    # 2000 estimates of 2 projections each, per sample: E ||J^T v||^2 = ||J||_F^2; the relative
    # std of one draw is at most sqrt(2), of the mean of 4000 about 0.02
    repeats = x.repeat(2000, 1, 1, 1)
    many = jacobian_sq_norm(model.encode, repeats, exact=False, projections=2).view(2000, len(x))
    torch.testing.assert_close(many.mean(dim=0), exact, rtol=0.1, atol=0)
    assert many.mean().item() == pytest.approx(exact.mean().item(), rel=0.04)


def test_exact_up_to_exact_max_dim_and_estimated_above_it():
    model, x = tiny("mlp")  # m = 3
    exact = jacobian_sq_norm(model.encode, x, exact=True).mean().item()
    at = penalty(Contractive(lam=1.0, exact_max_dim=3, projections=1), model, x, train=True)
    assert at.item() == pytest.approx(exact, rel=1e-12)
    above = penalty(Contractive(lam=1.0, exact_max_dim=2, projections=1), model, x, train=True)
    assert above.item() != pytest.approx(exact, rel=1e-3)


def test_validation_estimates_with_the_same_draws_every_time():
    model, x = tiny("mlp")  # m = 3 > exact_max_dim = 2: the estimate
    regularizer = Contractive(lam=1.0, exact_max_dim=2, projections=2000)
    exact = jacobian_sq_norm(model.encode, x, exact=True).mean().item()
    state = torch.get_rng_state()
    first = penalty(regularizer, model, x, train=False)
    assert torch.equal(torch.get_rng_state(), state)  # validation leaves training's RNG alone
    assert torch.equal(penalty(regularizer, model, x, train=False), first)
    assert first.item() == pytest.approx(exact, rel=0.05)
    assert penalty(regularizer, model, x, train=True).item() != first.item()  # global draws


def test_validation_under_inference_mode_gives_the_exact_value_without_a_graph():
    model, x = tiny("conv")
    expected = penalty(Contractive(lam=2.0), model, x, train=True)
    with torch.inference_mode():
        x_eval = x.clone()
        found = penalty(Contractive(lam=2.0), model, x_eval, train=False)
    assert found.item() == pytest.approx(expected.item(), rel=1e-12)
    assert found.grad_fn is None and expected.grad_fn is not None


def test_the_training_penalty_trains_the_encoder_and_not_the_decoder():
    model, x = tiny("mlp")
    penalty(Contractive(lam=1.0), model, x, train=True).backward()
    encoder = [p.grad for p in model.encoder.parameters()]
    decoder = [p.grad for p in model.decoder.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in encoder)
    assert all(g is None or g.abs().sum() == 0 for g in decoder)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"lam": -0.1}, "regularizer.lam"),
        ({"lam": math.nan}, "regularizer.lam"),
        ({"lam": True}, "regularizer.lam"),
        ({"exact_max_dim": -1}, "regularizer.exact_max_dim"),
        ({"exact_max_dim": 2.5}, "regularizer.exact_max_dim"),
        ({"projections": 0}, "regularizer.projections"),
        ({"projections": "4"}, "regularizer.projections"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(settings, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as refused:
        Contractive(**settings)
    assert "\n" not in str(refused.value) and "e.g." in str(refused.value)


def test_the_config_builds_the_documented_defaults():
    regularizer = instantiate(compose_config("regularizer=contractive").regularizer)
    assert isinstance(regularizer, Contractive)
    assert (regularizer.lam, regularizer.exact_max_dim, regularizer.projections) == (0.1, 16, 4)


def test_every_variant_trains_with_it_exactly_and_estimated(tmp_path):
    result = run_cli(
        "-m",
        "model=linear,mlp,conv,vae",
        "regularizer=contractive",
        "regularizer.exact_max_dim=0,16",  # m = 5: estimated, exact
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        "data.train_size=256",
        "data.val_size=64",
        "data.test_size=64",
        "data.batch_size=64",
        "torch_threads=1",
        "~logger",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = load_results(tmp_path / "outputs")
    done = {(r["model"], r["config"]["regularizer"]["exact_max_dim"]): r for r in results}
    assert sorted(done) == sorted((m, e) for m in ("conv", "linear", "mlp", "vae") for e in (0, 16))
    for key, r in done.items():
        assert r["status"] == "ok", (key, r.get("reason"))
        metrics = r["metrics"]
        for name in ("train/contractive", "val/contractive"):
            assert math.isfinite(metrics[name]) and metrics[name] > 0, (key, name)
        if key[0] != "vae":  # the penalty is part of the loss (a VAE's also has beta * kl)
            total = metrics["val/recon"] + metrics["val/contractive"]
            assert metrics["val/loss"] == pytest.approx(total, rel=1e-5), key
