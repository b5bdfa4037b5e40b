"""aelab-compare over repeated seeds: one row per setting, its mean and spread, failures counted.

Every result.json is written by hand (a sweep `model=linear,mlp compression.ratio=0.05,0.1
seed=1,2,3`), so each expected cell is known exactly.
"""

import csv
import json
import statistics
from pathlib import Path

import pytest

from aelab import compare
from aelab.compare.tensorboard import curve_points

MSE = {  # (model, ratio) -> test/mse of seeds 1, 2, 3
    ("linear", 0.05): [0.0040, 0.0042, 0.0047],
    ("linear", 0.1): [0.0020, 0.0021, 0.0025],
    ("mlp", 0.05): [0.0030, 0.0036, 0.0033],
    ("mlp", 0.1): [0.0015, 0.0016, 0.0014],
}


def _result(folder: Path, model: str, ratio: float, seed: int, mse: float | None, **extra) -> None:
    folder.mkdir(parents=True)
    overrides = [f"model={model}", f"compression.ratio={ratio}", f"seed={seed}"]
    overrides += [f"{k}={v}" for k, v in extra.items()]
    result = {
        "status": "ok" if mse is not None else "failed",
        "reason": "" if mse is not None else "NonFiniteLossError: nan",
        "model": model,
        "regularizer": "none",
        "data": "terrain",
        "overrides": overrides,
        "input_dim": 100,
        "latent_dim": round(ratio * 100),
        "compression_ratio": ratio,
        "metrics": {}
        if mse is None
        else {"test/mse": mse, "test/pca_mse": 0.004 if ratio == 0.05 else 0.002},
        "wall_seconds": 1.0,
        "config": {"compression": {"ratio": ratio, "latent_dim": None}},
    }
    (folder / "result.json").write_text(json.dumps(result))


def _sweep(folder: Path, seeds=(1, 2, 3), fail: tuple = ()) -> Path:
    job = 0
    for (model, ratio), values in MSE.items():
        for seed, mse in zip(seeds, values, strict=False):
            failed = (model, ratio, seed) in fail
            _result(folder / str(job), model, ratio, seed, None if failed else mse)
            job += 1
    return folder


def _table(folder: Path, metric: str = "test/mse") -> dict[str, list[str]]:
    text = (folder / "comparison.md").read_text()
    section = text.split(f"### {metric}", 1)[1].split("###", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return {r.split(" | ")[0][2:]: [c.strip(" |") for c in r.split(" | ")[1:]] for r in rows}


def test_seeds_form_one_row_with_mean_and_standard_deviation(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "s")
    assert compare.main([str(sweep), "--no-tensorboard"]) == 0
    table = _table(sweep)
    assert set(table) == {
        "linear/none",
        "mlp/none",
        "PCA bound (closed form)",
    }
    values = MSE[("mlp", 0.05)]
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    assert table["mlp/none"][0] == f"{mean:.4g} ± {sd:.2g} (n=3)"
    assert "mean ± standard deviation (3 or more jobs)" in (sweep / "comparison.md").read_text()
    with open(sweep / "comparison_cells.csv") as handle:
        cells = {(r["row"], r["eta"], r["metric"]): r for r in csv.DictReader(handle)}
    cell = cells[("mlp/none", "0.05", "test/mse")]
    assert (cell["n"], cell["failed"], cell["shown"]) == ("3", "0", "mean ± sd")
    assert float(cell["sd"]) == pytest.approx(sd) and float(cell["min"]) == min(values)
    with open(sweep / "comparison.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 12  # still one row per job


def test_two_seeds_show_their_range_and_failed_seeds_are_counted(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "s", fail={("linear", 0.1, 3)})
    assert compare.main([str(sweep), "--no-tensorboard"]) == 0
    table = _table(sweep)
    low, high = MSE[("linear", 0.1)][:2]
    assert (
        table["linear/none"][1] == f"{(low + high) / 2:.4g} [{low:.4g}–{high:.4g}] (n=2, 1 failed)"
    )
    # every seed failed: the cell says so
    for job in sorted(p for p in sweep.iterdir() if p.is_dir()):
        result = json.loads((job / "result.json").read_text())
        if "model=mlp" in result["overrides"] and "compression.ratio=0.1" in result["overrides"]:
            result.update(status="failed", metrics={}, reason="killed")
            (job / "result.json").write_text(json.dumps(result))
    assert compare.main([str(sweep), "--no-tensorboard"]) == 0
    assert _table(sweep)["mlp/none"][1] == "failed"


def test_a_single_seed_reads_as_before(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "s", seeds=(1,))
    assert compare.main([str(sweep), "--no-tensorboard"]) == 0
    assert _table(sweep)["mlp/none"] == ["0.003", "0.0015"]
    assert "standard deviation" not in (sweep / "comparison.md").read_text()


def test_over_names_the_keys_aggregated_and_the_rest_stay_rows(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    for job, (seed, data_seed) in enumerate([(1, 7), (2, 7), (1, 8), (2, 8)]):
        _result(folder / str(job), "mlp", 0.05, seed, 0.001 * (job + 1), **{"data.seed": data_seed})
    assert compare.main([str(folder), "--no-tensorboard"]) == 0
    assert set(_table(folder)) >= {"mlp/none seed=7", "mlp/none seed=8"}  # data.seed: rows
    assert compare.main([str(folder), "--over", "seed,data.seed", "--no-tensorboard"]) == 0
    assert _table(folder)["mlp/none"] == [
        f"{0.0025:.4g} ± {statistics.stdev([1e-3, 2e-3, 3e-3, 4e-3]):.2g} (n=4)"
    ]
    assert (
        compare.main([str(folder), "--over", "eta", "--no-tensorboard"]) == compare.EXIT_BAD_INPUT
    )


def test_the_figure_and_tensorboard_show_the_spread(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "s")
    jobs, _ = compare.load_jobs(sweep, "eta")
    fig = compare.curve_figure(jobs, "test/mse", "eta")
    (ax,) = fig.axes
    assert len(ax.containers) == 2  # an error bar line per model, none for PCA
    rows = curve_points(jobs, "test/mse", "eta")
    mlp = rows["mlp/none"]
    values = MSE[("mlp", 0.05)]
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    assert mlp["curve/terrain/test/mse"][0] == (5, pytest.approx(mean))
    assert mlp["curve/terrain/test/mse/low"][0] == (5, pytest.approx(mean - sd))
    assert mlp["curve/terrain/test/mse/high"][0] == (5, pytest.approx(mean + sd))
    assert "curve/terrain/test/mse/low" not in rows["PCA bound (closed form)"]
