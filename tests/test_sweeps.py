"""Sweeps end to end: a parallel multirun, aelab-compare on it, a poisoned job, TensorBoard.

One 4-job sweep (linear, mlp x two ratios, joblib with 2 workers) is shared by the tests that
read it: the comparison files, the parallel overlap and the TensorBoard server.
"""

import csv
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from hydra.core.hydra_config import HydraConfig

from aelab import compare
from aelab.metrics.pca import fit_pca
from aelab.metrics.subspace import max_principal_angle_deg
from aelab.models.linear import LinearAutoencoder
from aelab.threads import job_threads
from tests.conftest import (
    TINY_TERRAIN,
    compose_config,
    load_results,
    markdown_section_table,
    run_cli,
)

SWEEP = ["model=linear,mlp", "compression.ratio=0.05,0.1"]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A finished 4-job sweep run by 2 joblib workers, then compared by aelab-compare."""
    root = tmp_path_factory.mktemp("sweep")
    folder = root / "multirun"
    done = run_cli(
        "-m",
        *SWEEP,
        *TINY_TERRAIN,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={folder}",
        cwd=root,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    compared = run_cli(str(folder), command="aelab-compare", cwd=root)
    assert compared.returncode == 0, compared.stderr[-3000:]
    assert "| linear/none |" in compared.stdout  # the table is printed too
    return folder


def test_compare_writes_csv_markdown_and_figure(sweep_dir: Path) -> None:
    results = load_results(sweep_dir)
    assert len(results) == 4 and all(r["status"] == "ok" for r in results)
    with open(sweep_dir / "comparison.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["job"] for r in rows) == ["0", "1", "2", "3"]
    by_job = {r["job"]: r for r in rows}
    for result in results:
        row = by_job[Path(result["output_dir"]).name]
        assert (row["model"], row["regularizer"], row["data"]) == (
            result["model"],
            "none",
            "terrain",
        )
        assert int(row["m"]) == result["latent_dim"]
        assert float(row["test/mse"]) == pytest.approx(result["metrics"]["test/mse"], rel=1e-9)

    markdown = (sweep_dir / "comparison.md").read_text()
    mse = markdown_section_table(markdown, "test/mse")
    for result in results:
        column = f"η={result['config']['compression']['ratio']:g}"
        cell = mse[f"{result['model']}/none"][column]
        assert float(cell) == pytest.approx(result["metrics"]["test/mse"], rel=1e-3)
        bound = float(mse["PCA bound (closed form)"][column])
        assert bound == pytest.approx(result["metrics"]["test/pca_mse"], rel=1e-3)
    assert "Failed jobs" not in markdown
    png = (sweep_dir / "compression_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_joblib_runs_two_jobs_at_once(sweep_dir: Path) -> None:
    """Each job's [start, end] from result.json (written at the end, wall_seconds long)."""
    spans = []
    for path in sweep_dir.glob("*/result.json"):
        end = path.stat().st_mtime
        spans.append((end - json.loads(path.read_text())["wall_seconds"], end))
    spans.sort()
    overlaps = [a_end > b_start for (_, a_end), (b_start, _) in pairwise(spans)]
    assert any(overlaps), spans
    log = (sweep_dir / "multirun.yaml").read_text()
    assert "JoblibLauncher" in log and "n_jobs: 2" in log
    threads = [
        json.loads(p.read_text()).get("torch_threads") for p in sweep_dir.glob("*/result.json")
    ]
    assert threads and all(isinstance(t, int) and t >= 1 for t in threads), threads
    assert max(threads) * 2 <= max(2, os.cpu_count() or 1)


def test_poisoned_job_fails_alone_and_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "multirun"
    done = run_cli(
        "-m",
        "model=mlp",
        "model.lr=1e30,0.002",  # 1e30 drives the loss to NaN within two steps
        *TINY_TERRAIN,
        f"hydra.sweep.dir={folder}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    poisoned, healthy = (json.loads((folder / f"{i}/result.json").read_text()) for i in (0, 1))
    assert poisoned["status"] == "failed" and poisoned["error_type"] == "NonFiniteLossError"
    assert "nan" in poisoned["reason"] or "inf" in poisoned["reason"]
    assert healthy["status"] == "ok" and math.isfinite(healthy["metrics"]["test/mse"])

    assert compare.main([f"sweep_dir={folder}", "--no-tensorboard"]) == 0
    markdown = (folder / "comparison.md").read_text()
    lr = next(o for o in poisoned["overrides"] if o.startswith("model.lr=")).split("=")[1]
    failures = markdown.split("## Failed jobs", 1)[1]
    assert f"`0` (mlp/none lr={lr}, η=0.05): {poisoned['reason']}" in failures
    assert markdown_section_table(markdown, "test/mse")[f"mlp/none lr={lr}"]["η=0.05"] == "failed"


JOBS = [
    "0/model=linear,eta=0.05",
    "1/model=linear,eta=0.1",
    "2/model=mlp,eta=0.05",
    "3/model=mlp,eta=0.1",
]


def test_tensorboard_dashboard_reads_without_clicking_into_a_run(sweep_dir: Path) -> None:
    """TensorBoard on the sweep, read through its HTTP API as the browser does: runs named by
    what varies, the curve against m as charts beside PCA, HParams columns that tell the truth."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("tensorboard")),
                f"--logdir={sweep_dir}",
                "--host=127.0.0.1",
                f"--port={port}",
                "--load_fast=false",
                "--reload_interval=1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as error:
        pytest.skip(f"TensorBoard cannot start here: {error}")
    try:
        scalars, images = _poll_tags(port, server)
        for job in JOBS:  # every job by its model and eta, with its number
            assert {"val/mse", "train/loss", "test/mse"} <= set(scalars[job])
            assert "epoch" not in scalars[job]
        assert "comparison/compression_curve" in images["comparison"]
        curves = {run: tags for run, tags in scalars.items() if run.startswith("curve/")}
        assert set(curves) == {
            "curve/linear_none",
            "curve/mlp_none",
            "curve/PCA_bound_closed_form",
            "curve/PCA_bound,_uncentred",
        }
        assert all(set(tags) == {"curve/terrain/test/mse"} for tags in curves.values())
        points = _get(
            port, "/data/plugin/scalars/scalars?run=curve/mlp_none&tag=curve/terrain/test/mse"
        )
        assert [step for _, step, _ in points] == [5, 10]  # x = the latent size m
        pca = _get(
            port,
            "/data/plugin/scalars/scalars?run=curve/PCA_bound_closed_form&tag=curve/terrain/test/mse",
        )
        result = {r["latent_dim"]: r for r in load_results(sweep_dir) if r["model"] == "mlp"}
        assert [value for _, _, value in pca] == pytest.approx(
            [result[5]["metrics"]["test/pca_mse"], result[10]["metrics"]["test/pca_mse"]]
        )
        layout = _get(port, "/data/plugin/custom_scalars/layout")
        charts = layout["category"][0]["chart"]
        assert charts[0]["title"] == "terrain"
        assert charts[0]["multiline"]["tag"] == ["^curve/terrain/test/mse$"]

        experiment = _get(port, "/data/plugin/hparams/experiment", {"experimentName": ""})
        columns = [(h["name"], h.get("differs", False)) for h in experiment["hparamInfos"]]
        varied = [name for name, differs in columns if differs]
        assert {"model", "eta", "m"} <= set(varied) and "compression" not in dict(columns)
        assert columns[: len(varied)] == [(name, True) for name in varied]  # varied ones first
        assert {"data", "regularizer", "n", "seed"} <= {name for name, d in columns if not d}
        metrics = [m["name"]["tag"] for m in experiment["metricInfos"]]
        assert metrics[:3] == ["test/mse", "test/pca_mse", "test/mse_over_pca"]
        groups = _get(
            port,
            "/data/plugin/hparams/session_groups",
            {
                "experimentName": "",
                "allowedStatuses": ["STATUS_SUCCESS"],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 100,
            },
        )["sessionGroups"]
        assert sorted(g["name"] for g in groups) == JOBS
        by_name = {g["name"]: g for g in groups}
        session = by_name["3/model=mlp,eta=0.1"]
        assert session["hparams"]["model"] == "mlp" and session["hparams"]["eta"] == 0.1
        assert session["hparams"]["m"] == 10
        value = {m["name"]["tag"]: m["value"] for m in session["metricValues"]}
        assert value["test/mse"] == pytest.approx(result[10]["metrics"]["test/mse"], rel=1e-6)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _get(port: int, path: str, body: dict | None = None):
    """A TensorBoard API answer (POST with a JSON body where the frontend posts one)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _poll_tags(port: int, server: subprocess.Popen, timeout: float = 60.0):
    base = f"http://127.0.0.1:{port}/data/plugin"
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, server.stderr.read()[-2000:]
        try:
            with urllib.request.urlopen(f"{base}/scalars/tags", timeout=5) as response:
                scalars = json.load(response)
            with urllib.request.urlopen(f"{base}/images/tags", timeout=5) as response:
                images = json.load(response)
            if "comparison" in images and set(JOBS) <= set(scalars) and "curve/mlp_none" in scalars:
                return scalars, images
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, "tensorboard did not serve the sweep in time"
        time.sleep(0.5)


def test_compare_without_results_says_so(tmp_path: Path, capsys) -> None:
    assert compare.main([str(tmp_path)]) == compare.EXIT_NO_RESULTS
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no result.json under" in error
    assert compare.main([str(tmp_path / "missing")]) == compare.EXIT_BAD_INPUT


def _fake_result(folder: Path, data: str, model: str, ratio: float, mse: float, n: int) -> None:
    folder.mkdir(parents=True)
    result = {
        "status": "ok",
        "model": model,
        "regularizer": "none",
        "data": data,
        "overrides": [f"model={model}", f"data={data}", f"compression.ratio={ratio}"],
        "input_dim": n,
        "latent_dim": round(ratio * n),
        "compression_ratio": round(ratio * n) / n,
        "metrics": {"test/mse": mse, "test/pca_mse": mse / 2, "test/mse_over_pca": 2.0},
        "wall_seconds": 1.0,
        "config": {"compression": {"ratio": ratio, "latent_dim": None}},
    }
    (folder / "result.json").write_text(json.dumps(result))


def test_compare_separates_datasets(tmp_path: Path) -> None:
    _fake_result(tmp_path / "terrain/0", "terrain", "mlp", 0.05, 0.01, 100)
    _fake_result(tmp_path / "mnist/0", "mnist", "mlp", 0.05, 0.02, 784)
    _fake_result(tmp_path / "mnist/1", "mnist", "linear", 0.1, 0.03, 784)
    assert compare.main([str(tmp_path), "--no-tensorboard"]) == 0
    markdown = (tmp_path / "comparison.md").read_text()
    sections = {part.split("\n", 1)[0]: part for part in markdown.split("\n## ")[1:]}
    terrain, mnist = sections["terrain (n = 100)"], sections["mnist (n = 784)"]
    assert markdown_section_table(terrain, "test/mse")["mlp/none"] == {"η=0.05": "0.01"}
    assert markdown_section_table(mnist, "test/mse")["linear/none"] == {
        "η=0.05": "",
        "η=0.1": "0.03",
    }
    assert (tmp_path / "compression_curve.png").stat().st_size > 5000


def test_slurm_launcher_composes_with_documented_settings() -> None:
    cfg = compose_config(
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=2",
        "hydra.launcher.timeout_min=120",
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("gpu", 2, 120)
    defaults = compose_config("hydra/launcher=slurm").hydra.launcher
    documented = (Path(__file__).parents[1] / "docs/experiments.md").read_text()
    for key in ("partition", "gpus_per_node", "timeout_min", "cpus_per_task", "mem_gb"):
        value = "null" if defaults[key] is None else str(defaults[key])
        assert re.search(rf"`{key}`\s*\|\s*`{value}`", documented), f"{key}={value} not documented"


@pytest.mark.parametrize(("n_jobs", "cores", "expected"), [(2, 2, 1), (-1, 2, 1), (2, 8, 4)])
def test_joblib_jobs_share_the_cores(n_jobs: int, cores: int, expected: int) -> None:
    cfg = compose_config("hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}")
    HydraConfig.instance().set_config(cfg)
    try:
        assert job_threads(None, cores=cores) == expected
        assert job_threads(3, cores=cores) == 3  # an explicit torch_threads wins
        HydraConfig.instance().set_config(compose_config())  # the basic launcher: torch's default
        assert job_threads(None, cores=cores) is None
    finally:
        HydraConfig.instance().cfg = None


def test_principal_angle_is_zero_on_pca_and_ninety_off_it() -> None:
    torch.manual_seed(0)
    x = torch.randn(500, 1, 4, 4) * torch.linspace(3, 0.1, 16).view(1, 1, 4, 4)
    model = LinearAutoencoder(input_shape=[1, 4, 4], latent_dim=3)
    pca = fit_pca(x, 16)
    with torch.no_grad():
        model.encoder.weight.copy_(pca.components[:3].float() * 2)  # any basis of the subspace
    assert max_principal_angle_deg(model, x) == pytest.approx(0.0, abs=1e-2)
    with torch.no_grad():
        model.encoder.weight.copy_(pca.components[[0, 1, 5]].float())
    assert max_principal_angle_deg(model, x) == pytest.approx(90.0, abs=1e-2)


def test_a_sweep_from_before_run_names_still_compares_and_keeps_its_event_files(tmp_path: Path):
    """Runs named `<job>/tensorboard/version_0` and results without `hparams` (the layout before
    runs were named by their overrides): compared with TensorBoard output, nothing of theirs moves."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    old_events = []
    for job, (model, mse) in enumerate([("mlp", 0.01), ("conv", 0.008)]):
        _fake_result(tmp_path / str(job), "terrain", model, 0.05, mse, 100)
        writer = SummaryWriter(str(tmp_path / str(job) / "tensorboard" / "version_0"))
        writer.add_scalar("val/mse", mse, 1)
        writer.close()
        old_events += list((tmp_path / str(job) / "tensorboard" / "version_0").iterdir())
    before = {p: p.read_bytes() for p in old_events}
    assert compare.main([str(tmp_path)]) == 0
    assert {p: p.read_bytes() for p in old_events} == before
    old = EventAccumulator(str(old_events[0].parent)).Reload()
    assert [e.value for e in old.Scalars("val/mse")] == [pytest.approx(0.01)]
    curves = sorted(p.name for p in (tmp_path / "curve").iterdir())
    assert curves == ["PCA_bound_closed_form", "conv_none", "mlp_none"]
