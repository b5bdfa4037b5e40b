"""aelab-eval prefix=k: every task on the model's first k latents, PCA at k; the export task."""

import contextlib
import io
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import aelab.eval as registry
from aelab.errors import ConfigError
from aelab.eval import Outputs, export
from aelab.eval._anomaly_scores import vae_scores
from aelab.metrics.denoising import quality
from aelab.metrics.detection import evaluate_detector
from aelab.metrics.pca import fit_pca
from aelab.models.mlp import MLPAutoencoder
from aelab.models.vae import gaussian_kl
from aelab.ordered.base import pad_code
from aelab.runs.checkpoints import LoadedRun, load_run
from tests.conftest import compose_config
from tests.ordered_runs import M, eval_in_process, trained_run

K = 5
NORMAL = "anomaly.normal_classes=[flat,sea,hills,mountain]"  # urban counts as the anomaly
TASKS = ["reconstruction", "anomaly", "embedding", "denoising", "interpolation"]


@pytest.fixture(scope="session")
def mlp_run(tmp_path_factory) -> Path:
    return trained_run("mlp", tmp_path_factory)


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory) -> Path:
    return trained_run("vae", tmp_path_factory)


@pytest.fixture(scope="module")
def at_k(mlp_run, tmp_path_factory) -> tuple[dict, dict, str, Path]:
    """aelab-eval prefix=5 of the ordered MLP (m = 10): eval.json, result.json, stdout, dir."""
    cwd = tmp_path_factory.mktemp("eval_at_k")
    tasks = ",".join([*TASKS, "export"])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = eval_in_process(
            f"ckpt_path={mlp_run}",
            f"prefix={K}",
            f"task=[{tasks}]",
            NORMAL,
            "export.reconstructions=true",
            cwd=cwd,
        )
    out = cwd / "eval"
    assert code == 0, (out / "result.json").read_text()
    report = json.loads((out / "eval.json").read_text())
    return report, json.loads((out / "result.json").read_text()), printed.getvalue(), out


@pytest.fixture(scope="module")
def loaded(mlp_run) -> LoadedRun:
    """The ordered MLP run, whole code."""
    return load_run(mlp_run)


def sse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return ((x_hat - x) ** 2).flatten(1).sum(dim=1).double()


def best_metrics(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "result.json").read_text())["best"]["metrics"]


# --- every task at k ------------------------------------------------------------------------------
def test_eval_json_and_the_summary_say_the_prefix(at_k):
    report, result, printed, _ = at_k
    assert (report["prefix"], report["latent_dim"], report["model_latent_dim"]) == (K, K, M)
    assert (result["prefix"], result["latent_dim"], result["model_latent_dim"]) == (K, K, M)
    assert list(report["tasks"]) == [*TASKS, "export"]
    assert f"prefix k={K} of m={M} latents" in printed


def test_reconstruction_at_k_is_the_models_truncated_code_and_the_training_runs(
    at_k, loaded, mlp_run
):
    found = at_k[0]["tasks"]["reconstruction"]
    x, n = loaded.data("test")["x"], loaded.n
    model_mse = float(sse(loaded.trained.reconstruct(x, K), x).mean() / n)
    pca_mse = float(fit_pca(loaded.data("train")["x"], K).reconstruction_sse(x).mean() / n)
    logged = best_metrics(mlp_run)
    assert found["mse"] == pytest.approx(model_mse, rel=1e-6)
    assert found["mse"] == pytest.approx(logged[f"test/mse@{K}"], rel=1e-5)
    assert found["pca_mse"] == pytest.approx(pca_mse, rel=1e-9)
    assert found["pca_mse"] == pytest.approx(logged[f"test/pca_mse@{K}"], rel=1e-5)
    assert found["mse"] > 2 * logged[f"test/mse@{M}"]  # not the whole code's error


def test_anomaly_at_k_scores_the_truncated_code_beside_pca_at_k(at_k, loaded):
    found = at_k[0]["tasks"]["anomaly"]
    train, test = loaded.data("train"), loaded.data("test")
    is_anomaly = test["label"] == loaded.datamodule.class_names.index("urban")
    model = evaluate_detector(
        sse(loaded.trained.reconstruct(train["x"], K), train["x"]),
        sse(loaded.trained.reconstruct(test["x"], K), test["x"]),
        is_anomaly,
        0.1,
    )
    pca = fit_pca(train["x"], K)
    baseline = evaluate_detector(
        pca.reconstruction_sse(train["x"]), pca.reconstruction_sse(test["x"]), is_anomaly, 0.1
    )
    assert found["num_anomalies"] == int(is_anomaly.sum()) > 0
    assert found["model"]["auroc"] == pytest.approx(model["auroc"], abs=1e-12)
    assert found["model"]["threshold"] == pytest.approx(model["threshold"], rel=1e-6)
    assert found["pca"]["auroc"] == pytest.approx(baseline["auroc"], abs=1e-12)


def test_embedding_at_k_maps_probes_and_projects_k_dimensional_codes(at_k):
    found, out = at_k[0]["tasks"]["embedding"], at_k[3]
    assert set(found["label_accuracy"]) == {"model", f"pca_m{K}", "majority"}
    assert set(found["r2"]) == {"model", f"pca_m{K}"}
    rows = next((out / "tensorboard").rglob("tensors.tsv")).read_text().splitlines()
    assert {len(row.split("\t")) for row in rows} == {K}


def test_denoising_and_interpolation_at_k(at_k, loaded):
    tasks = at_k[0]["tasks"]
    x = loaded.data("test")["x"][:1000]
    clean = quality(loaded.trained.reconstruct(x, K), x, loaded.datamodule.value_range)
    assert tasks["denoising"]["clean_reconstruction"]["psnr"] == pytest.approx(clean["psnr"])
    traversal = tasks["interpolation"]["traversal"]
    assert sorted(traversal["dims"]) == list(range(K))  # the first k latents, each traversed once


def test_export_writes_the_codes_labels_and_reconstructions_at_k(at_k, mlp_run):
    found, out = at_k[0]["tasks"]["export"], at_k[3]
    run = load_run(mlp_run, prefix=K)
    test = run.data("test")
    with np.load(out / "codes_test.npz", allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    assert found["files"] == ["codes_test.npz"] and found["num_samples"] == len(test["x"])
    assert torch.equal(torch.from_numpy(arrays["codes"]), run.encode(test["x"]))
    assert torch.equal(torch.from_numpy(arrays["codes"]), run.trained.embed(test["x"], K))
    assert torch.equal(torch.from_numpy(arrays["reconstructions"]), run.reconstruct(test["x"]))
    assert (arrays["labels"] == test["label"].numpy()).all()
    assert list(arrays["class_names"]) == run.datamodule.class_names
    assert found["shapes"] == {
        "codes": [256, K],
        "labels": [256],
        "class_names": [5],
        "reconstructions": [256, 1, 10, 10],
    }
    assert found["code_mean"] == pytest.approx(arrays["codes"].astype(np.float64).mean(axis=0))
    assert at_k[1]["metrics"]["export/n"] == 256


# --- k = m is the whole code ----------------------------------------------------------------------
def test_prefix_m_gives_the_numbers_of_the_whole_code(loaded, tmp_path):
    cfg = compose_config("ckpt_path=x", NORMAL, config_name="eval")
    results = []
    for run in (loaded, loaded.restrict(M)):
        out = Outputs(tmp_path / f"k{run.prefix}")
        try:
            found = {}
            for name in TASKS:
                torch.manual_seed(0)
                found[name] = registry.TASKS[name].run(run, cfg, out)
        finally:
            out.close()
        results.append(found)
    whole, at_m = results
    assert whole["reconstruction"]["mse"] > 0
    assert whole == at_m


# --- bad prefixes: one line, exit code 2 ----------------------------------------------------------
@pytest.mark.parametrize("prefix", ["0", "-1", "abc", "11", "2.5", "true"])
def test_a_bad_prefix_is_one_line(prefix, mlp_run, tmp_path, capsys):
    code = eval_in_process(f"ckpt_path={mlp_run}", f"prefix={prefix}", cwd=tmp_path)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("aelab: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err[-2000:]
    shown = {"abc": "'abc'", "true": "True"}.get(prefix, prefix)
    assert f"prefix={shown} does not fit" in lines[0]
    assert f"m={M} latents" in lines[0] and str(mlp_run) in lines[0]
    assert not (tmp_path / "eval" / "eval.json").exists()


def test_restricting_an_unordered_model_warns_once(loaded, caplog):
    torch.manual_seed(0)
    plain = MLPAutoencoder([1, 10, 10], 6, hidden_sizes=[8]).eval()
    run = LoadedRun(plain, loaded.datamodule, {}, Path("plain.ckpt"), torch.device("cpu"))
    with caplog.at_level(logging.WARNING, logger="aelab.runs"):
        view = run.restrict(2)
        run.restrict(6)  # the whole code: nothing to warn of
        loaded.restrict(K)  # an ordered model
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "without an ordering" in warnings[0].getMessage()
    assert "prefix=2" in warnings[0].getMessage() and "plain.ckpt" in warnings[0].getMessage()
    assert (
        view.latent_dim == 2 and view.m == 6 and view.embed(loaded.data("test")["x"]).shape[1] == 2
    )


# --- a VAE at k: the posterior's first k dims, samples of k latents ------------------------------
def test_vae_scores_at_k_use_the_first_k_posterior_dims(vae_run):
    run = load_run(vae_run)
    vae, view = run.trained, run.restrict(3).model
    x = run.data("test")["x"][:16]
    with torch.no_grad():
        mu, logvar = vae.posterior(x)
        mu, logvar = mu[:, :3], logvar[:, :3]
        eps = torch.randn((4, 16, 3), generator=torch.Generator().manual_seed(7))
        z = mu + eps * (0.5 * logvar).exp()
        log_likelihood = vae.log_likelihood(x, pad_code(z, M))
        terms = view.elbo_terms(x, 4, torch.Generator().manual_seed(7))
        bound = view.iwae_bound(x, 4, torch.Generator().manual_seed(7))
    kl = gaussian_kl(mu, logvar).sum(dim=1)
    torch.testing.assert_close(terms["kl"], kl)
    torch.testing.assert_close(terms["log_likelihood"], log_likelihood.mean(dim=0))
    log_weights = log_likelihood - 0.5 * z.pow(2).sum(-1) + 0.5 * (eps.pow(2) + logvar).sum(-1)
    torch.testing.assert_close(bound, torch.logsumexp(log_weights, dim=0) - math.log(4))
    plugin, _, code = view.loss_terms({"x": x})
    assert code.shape == (16, 3)
    torch.testing.assert_close(plugin["kl"], kl.mean())


def test_a_vae_at_k_equal_to_m_scores_and_samples_as_the_vae(vae_run):
    run = load_run(vae_run)
    vae, view = run.trained, run.restrict(M).model
    x = run.data("test")["x"][:16]
    with torch.no_grad():
        ours = view.elbo_terms(x, 4, torch.Generator().manual_seed(3))
        theirs = vae.elbo_terms(x, 4, torch.Generator().manual_seed(3))
        assert all(torch.equal(ours[key], theirs[key]) for key in ("log_likelihood", "kl", "elbo"))
        bound = view.iwae_bound(x, 4, torch.Generator().manual_seed(3))
        assert torch.equal(bound, vae.iwae_bound(x, 4, torch.Generator().manual_seed(3)))
        view_terms, _, _ = view.loss_terms({"x": x})
        vae_terms, _, _ = vae.loss_terms({"x": x}, train=False)
    assert float(view_terms["recon"]) == float(vae_terms["recon"])
    assert float(view_terms["kl"]) == float(vae_terms["kl"])
    torch.manual_seed(5)
    ours = view.sample(6)
    torch.manual_seed(5)
    assert torch.equal(ours, vae.sample(6))


def test_eval_of_a_vae_at_k_generates_from_k_latents(vae_run, tmp_path):
    code = eval_in_process(
        f"ckpt_path={vae_run}",
        "prefix=3",
        "task=[generation,anomaly]",
        NORMAL,
        "anomaly.score=elbo",
        "anomaly.vae_score=iwae",
        "anomaly.samples=4",
        cwd=tmp_path,
    )
    assert code == 0, (tmp_path / "eval" / "result.json").read_text()
    tasks = json.loads((tmp_path / "eval" / "eval.json").read_text())["tasks"]
    assert tasks["generation"]["traversal_dims"] == 3
    run = load_run(vae_run, prefix=3)
    train, test = run.data("train"), run.data("test")
    is_anomaly = test["label"] == run.datamodule.class_names.index("urban")
    scores = [vae_scores(run, split["x"], "iwae", 4, seed=0) for split in (train, test)]
    expected = evaluate_detector(*scores, is_anomaly, 0.1)
    assert tasks["anomaly"]["vae_score"] == "iwae"
    assert tasks["anomaly"]["model"]["auroc"] == pytest.approx(expected["auroc"], abs=1e-12)
    whole = [vae_scores(load_run(vae_run), test["x"], "iwae", 4, seed=0), scores[1]]
    assert not torch.allclose(*whole)  # the whole code scores otherwise


# --- export: on request, formats, splits ----------------------------------------------------------
def test_task_all_leaves_export_out_and_a_list_runs_it(loaded, caplog):
    cfg = compose_config("ckpt_path=x", config_name="eval")
    with caplog.at_level(logging.INFO, logger="aelab.eval"):
        chosen = registry.select_tasks("all", loaded, cfg)
    assert "export" not in chosen and "reconstruction" in chosen
    assert any("skipped export (on request only)" in r.getMessage() for r in caplog.records)
    assert registry.select_tasks(["reconstruction", "export"], loaded, cfg) == [
        "reconstruction",
        "export",
    ]


def test_export_of_every_split_as_npy_files(loaded, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "PROGRESS_FROM", 1)  # the progress bar's path too
    cfg = OmegaConf.merge(
        compose_config("ckpt_path=x", config_name="eval"),
        {"export": {"split": "all", "format": "npy"}},
    )
    out = Outputs(tmp_path)
    try:
        found = export.run(loaded, cfg, out)
    finally:
        out.close()
    names = ["codes", "labels", "class_names", "split"]
    assert found["files"] == [f"codes_all/{name}.npy" for name in names]
    arrays = {name: np.load(tmp_path / "codes_all" / f"{name}.npy") for name in names}
    every = loaded.data("all")
    assert len(arrays["codes"]) == found["num_samples"] == 512 + 128 + 256
    assert torch.equal(torch.from_numpy(arrays["codes"]), loaded.encode(every["x"]))
    assert arrays["codes"].shape == (896, M) and found["prefix"] is None
    assert (arrays["labels"] == every["label"].numpy()).all()
    assert list(arrays["split"][[0, 511, 512, 639, 640, 895]]) == [
        "train",
        "train",
        "val",
        "val",
        "test",
        "test",
    ]
    assert not list(tmp_path.glob("**/.*"))  # no temporary files left


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"split": "everything"}, "unknown export.split 'everything'"),
        ({"format": "csv"}, "unknown export.format 'csv'"),
        ({"reconstructions": "yes"}, "export.reconstructions must be true or false"),
    ],
)
def test_bad_export_settings_are_refused_before_any_work(loaded, setting, message):
    cfg = OmegaConf.merge(compose_config("ckpt_path=x", config_name="eval"), {"export": setting})
    with pytest.raises(ConfigError, match=message):
        registry.select_tasks(["export"], loaded, cfg)
