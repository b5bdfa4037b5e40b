"""aelab-compare on ordered runs: one run's prefixes drawn as a curve beside a per-η sweep.

Every result.json is written by hand: an ordered run (``prefix_sizes`` [1, 2, 5, 10, 20, 50],
n = 100) whose first k latents reach test/mse@k = 0.1 / k, and sweep jobs at η = 0.05, 0.1.
"""

import csv
import json
from pathlib import Path

import pytest

from aelab import compare
from tests.conftest import markdown_section_table

SIZES = [1, 2, 5, 10, 20, 50]
RATIOS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
ONE_RUN = "mlp/none ordered=nested (one run)"
PCA = "PCA bound (closed form)"


def _ordered_result(folder: Path, ratio: float = 0.5, n: int = 100, **extra) -> dict:
    """A finished nested-dropout run: mse@k = 0.1 / k, pca_mse@k = 0.08 / k, ratio 1 + k / 100,
    at k = round(η n) for each η of RATIOS below m, and m."""
    m = round(ratio * n)
    sizes = [round(r * n) for r in RATIOS if round(r * n) < m] + [m]
    metrics = {"test/mse": 0.1 / m, "test/pca_mse": 0.08 / m, "test/noise_mse": 3.0}
    for k in sizes:
        metrics |= {f"test/mse@{k}": 0.1 / k, f"test/pca_mse@{k}": 0.08 / k}
        metrics |= {f"test/mse_over_pca@{k}": 1 + k / 100, f"val/mse@{k}": 0.2 / k}
    result = {
        "status": "ok",
        "model": "mlp",
        "regularizer": "none",
        "ordered": "nested",
        "data": "terrain",
        "overrides": ["ordered=nested", f"compression.ratio={ratio}"],
        "input_dim": n,
        "latent_dim": m,
        "compression_ratio": m / n,
        "prefix_sizes": sizes,
        "metrics": metrics,
        "wall_seconds": 7.0,
        "config": {
            "compression": {"ratio": ratio, "latent_dim": None},
            "ordered": {"prefix_sizes": None, "prefix_ratios": RATIOS},
        },
    } | extra
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(result))
    return result


def _sweep_result(folder: Path, ratio: float, mse: float, pca: float, **extra) -> None:
    """A finished unordered job of a per-η sweep (result.json as before ordered runs)."""
    result = {
        "status": "ok",
        "model": "mlp",
        "regularizer": "none",
        "data": "terrain",
        "overrides": [f"compression.ratio={ratio}"],
        "input_dim": 100,
        "latent_dim": round(ratio * 100),
        "compression_ratio": round(ratio * 100) / 100,
        "metrics": {"test/mse": mse, "test/pca_mse": pca, "test/mse_over_pca": mse / pca},
        "wall_seconds": 1.0,
        "config": {"compression": {"ratio": ratio, "latent_dim": None}},
    } | extra
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(result))


def _sweep(folder: Path) -> Path:
    _sweep_result(folder / "0", 0.05, 0.03, 0.0155)
    _sweep_result(folder / "1", 0.1, 0.012, 0.0079)
    return folder


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def _lines(jobs: list[compare.Job]) -> dict[str, tuple[list[float], list[float]]]:
    """The figure's lines (one panel) as {legend: (xs, ys)}."""
    fig = compare.curve_figure(jobs, "test/mse", "eta")
    (ax,) = fig.axes
    return {
        line.get_label(): tuple([float(v) for v in values] for values in line.get_data())
        for line in ax.get_lines()
    }


def _cells(*values: str) -> dict[str, str]:
    return {f"η={r:g}": v for r, v in zip(RATIOS, values, strict=True)}


def test_single_ordered_run_is_one_curve(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _ordered_result(run)
    assert compare.main([str(run), "--no-tensorboard"]) == 0
    markdown = (run / "comparison.md").read_text()
    assert "1 jobs (1 ok, 0 failed) in" in markdown
    mse = markdown_section_table(markdown, "test/mse")
    assert list(mse) == [ONE_RUN, PCA]
    assert mse[ONE_RUN] == _cells("0.1", "0.05", "0.02", "0.01", "0.005", "0.002")
    assert mse[PCA] == _cells("0.08", "0.04", "0.016", "0.008", "0.004", "0.0016")
    ratio = markdown_section_table(
        markdown, "test/mse_over_pca"
    )  # the run's own @k ratio, not recomputed
    assert ratio == {ONE_RUN: _cells("1.01", "1.02", "1.05", "1.1", "1.2", "1.5")}

    rows = _csv(run / "comparison.csv")
    assert [int(r["m"]) for r in rows] == SIZES
    assert [float(r["eta"]) for r in rows] == RATIOS
    assert [float(r["test/mse"]) for r in rows] == pytest.approx([0.1 / k for k in SIZES])
    assert [float(r["val/mse"]) for r in rows] == pytest.approx([0.2 / k for k in SIZES])
    assert {(r["job"], r["label"]) for r in rows} == {("run", ONE_RUN)}
    assert [r["test/noise_mse"] for r in rows] == ["", "", "", "", "", "3.0"]  # the whole model
    assert not any("@" in column for column in rows[0])

    jobs, _ = compare.load_jobs(run, "eta")
    lines = _lines(jobs)
    assert list(lines) == [ONE_RUN, PCA]
    assert lines[ONE_RUN][0] == lines[PCA][0] == RATIOS
    assert lines[ONE_RUN][1] == pytest.approx([0.1 / k for k in SIZES])
    assert lines[PCA][1] == pytest.approx([0.08 / k for k in SIZES])


def test_sweep_and_ordered_run_share_panel_and_table(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "sweep")
    _ordered_result(tmp_path / "run")
    assert compare.main([str(sweep), str(tmp_path / "run"), "--no-tensorboard"]) == 0
    markdown = (sweep / "comparison.md").read_text()  # into the first dir
    assert markdown.count("\n## ") == 1 and "3 jobs (3 ok, 0 failed)" in markdown
    mse = markdown_section_table(markdown, "test/mse")
    assert list(mse) == ["mlp/none", ONE_RUN, PCA]  # one PCA row for the one dataset
    assert mse["mlp/none"] == _cells("", "", "0.03", "0.012", "", "")
    assert mse[ONE_RUN] == _cells("0.1", "0.05", "0.02", "0.01", "0.005", "0.002")
    # the sweep's bound where it ran a job, the run's closed form elsewhere
    assert mse[PCA] == _cells("0.08", "0.04", "0.0155", "0.0079", "0.004", "0.0016")

    rows = _csv(sweep / "comparison.csv")
    names = [r["job"] for r in rows]
    assert names == [f"{sweep}/0", f"{sweep}/1", *[str(tmp_path / "run")] * 6]
    assert [r["label"] for r in rows] == ["mlp/none"] * 2 + [ONE_RUN] * 6

    jobs = [
        *compare.load_jobs(sweep, "eta")[0],
        *compare.load_jobs(tmp_path / "run", "eta")[0],
    ]
    lines = _lines(jobs)
    assert list(lines) == ["mlp/none", ONE_RUN, PCA]
    assert lines["mlp/none"] == ([0.05, 0.1], [0.03, 0.012])
    assert lines[ONE_RUN][0] == lines[PCA][0] == RATIOS
    assert lines[PCA][1] == pytest.approx([0.08, 0.04, 0.0155, 0.0079, 0.004, 0.0016])


def test_out_directory_and_repeated_sweep_dir(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "sweep")
    _ordered_result(tmp_path / "run")
    out = tmp_path / "report" / "here"
    argv = [f"sweep_dir={sweep}", f"sweep_dir={tmp_path / 'run'}", f"out={out}"]
    assert compare.main([*argv, "--no-tensorboard"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.csv",
        "comparison.md",
        "comparison_cells.csv",
        "compression_curve.png",
    ]
    assert not (sweep / "comparison.md").exists() and not (tmp_path / "run/comparison.md").exists()
    assert len(_csv(out / "comparison.csv")) == 8
    # the same result.json reached twice is read once; a result.json file stands for its run
    assert compare.main([str(sweep), str(sweep / "0"), "--no-tensorboard"]) == 0
    assert [r["job"] for r in _csv(sweep / "comparison.csv")] == [f"{sweep}/0", f"{sweep}/1"]
    assert compare.main([str(tmp_path / "run/result.json"), "--no-tensorboard"]) == 0
    assert len(_csv(tmp_path / "run/comparison.csv")) == 6


def test_tensorboard_run_holds_the_one_run_curve(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sweep = _sweep(tmp_path / "sweep")
    _ordered_result(tmp_path / "run")
    assert compare.main([str(sweep), str(tmp_path / "run")]) == 0
    events = EventAccumulator(str(sweep / "comparison"), size_guidance={"tensors": 0})
    events.Reload()
    assert events.Tags()["images"] == ["comparison/compression_curve"]
    (text,) = events.Tensors("comparison/table/text_summary")
    table = text.tensor_proto.string_val[0].decode()
    assert f"| {ONE_RUN} | 0.1 | 0.05 | 0.02 | 0.01 | 0.005 | 0.002 |" in table


def test_several_ordered_runs_are_told_apart(tmp_path: Path) -> None:
    _ordered_result(tmp_path / "0", ratio=0.5)
    _ordered_result(tmp_path / "1", ratio=0.1)
    _ordered_result(tmp_path / "2", ratio=0.1)
    _ordered_result(
        tmp_path / "3", ratio=0.1, status="failed", reason="loss is nan", prefix_sizes=[]
    )
    assert compare.main([str(tmp_path), "--no-tensorboard"]) == 0
    markdown = (tmp_path / "comparison.md").read_text()
    assert "4 jobs (3 ok, 1 failed)" in markdown
    mse = markdown_section_table(markdown, "test/mse")
    assert list(mse) == [
        "mlp/none ordered=nested (one run, m=50)",
        "mlp/none ordered=nested (one run: 1)",
        "mlp/none ordered=nested (one run: 2)",
        "mlp/none ordered=nested",  # the failed run: not cut into prefixes
        PCA,
    ]
    assert mse["mlp/none ordered=nested (one run: 2)"] == _cells(
        "0.1", "0.05", "0.02", "0.01", "", ""
    )
    assert "- `3` (mlp/none ordered=nested, η=0.1): loss is nan" in markdown


def test_ordered_run_on_another_axis_stays_one_job(tmp_path: Path) -> None:
    result = _ordered_result(tmp_path / "0")
    result["config"]["data"] = {"train_size": 512}
    (tmp_path / "0/result.json").write_text(json.dumps(result))
    assert compare.main([str(tmp_path), "--x", "data.train_size", "--no-tensorboard"]) == 0
    assert markdown_section_table((tmp_path / "comparison.md").read_text(), "test/mse") == {
        "mlp/none ordered=nested": {"train_size=512": "0.002"},
        PCA: {"train_size=512": "0.0016"},
    }
    # the experiments' reader cuts prefixes the same way
    jobs = compare.jobs_from_results([result])
    assert [(j.m, j.eta) for j in jobs] == list(zip(SIZES, RATIOS, strict=True))
    assert [j.metrics["test/mse"] for j in jobs] == pytest.approx([0.1 / k for k in SIZES])


def test_prefix_points_sit_in_the_columns_of_their_ratio(tmp_path: Path) -> None:
    """n = 784: k = round(0.05 n) = 39 is the sweep's η=0.05 column, not 39 / 784."""
    _ordered_result(tmp_path / "run", n=784)
    jobs, _ = compare.load_jobs(tmp_path / "run", "eta")
    assert [(j.m, j.eta, j.x) for j in jobs] == [
        (8, 0.01, 0.01),
        (16, 0.02, 0.02),
        (39, 0.05, 0.05),
        (78, 0.1, 0.1),
        (157, 0.2, 0.2),
        (392, 0.5, 0.5),
    ]
    assert all(j.run is jobs[0].run and j.name == "run" for j in jobs)
    assert jobs[0].run.m == 392 and jobs[0].run.x == 0.5


def test_prefix_sizes_between_requested_ratios_are_k_over_n(tmp_path: Path) -> None:
    _ordered_result(tmp_path / "run", prefix_sizes=[3, 50])
    jobs, _ = compare.load_jobs(tmp_path / "run", "eta")
    assert [(j.m, j.eta, j.x) for j in jobs] == [(3, 0.03, 0.03), (50, 0.5, 0.5)]
    assert jobs[0].run is jobs[1].run and jobs[0].run.m == 50 and jobs[0].name == "run"


def test_sweep_without_ordered_runs_is_unchanged(tmp_path: Path) -> None:
    """The exact files aelab-compare wrote before ordered runs, for old and new result.json."""
    old, new = tmp_path / "old", tmp_path / "new"
    _sweep(old)
    _sweep_result(old / "2", 0.2, 1.0, 1.0, status="failed", reason="boom", metrics={})
    new_keys = {"ordered": "none", "prefix_sizes": []}
    _sweep_result(new / "0", 0.05, 0.03, 0.0155, **new_keys)
    _sweep_result(new / "1", 0.1, 0.012, 0.0079, **new_keys)
    _sweep_result(new / "2", 0.2, 1.0, 1.0, status="failed", reason="boom", metrics={}, **new_keys)
    for folder in (old, new):
        assert compare.main([str(folder), "--no-tensorboard"]) == 0
        markdown = (folder / "comparison.md").read_text()
        assert markdown == EXPECTED_MARKDOWN.replace("<dir>", str(folder)).replace(
            "<name>", folder.name
        )
        assert (folder / "comparison.csv").read_text() == EXPECTED_CSV


EXPECTED_MARKDOWN = """\
# Comparison: <name>

3 jobs (2 ok, 1 failed) in `<dir>`. Columns: η = m / n. Cells: the test split's per-pixel MSE \
(mean over jobs), and the other metrics listed; the PCA rows are the closed-form optimum of a \
rank-m linear map.

## terrain (n = 100)

### test/mse

| model / regularizer | η=0.05 | η=0.1 | η=0.2 |
|---|---:|---:|---:|
| mlp/none | 0.03 | 0.012 | failed |
| PCA bound (closed form) | 0.0155 | 0.0079 |  |

### test/mse_over_pca

| model / regularizer | η=0.05 | η=0.1 | η=0.2 |
|---|---:|---:|---:|
| mlp/none | 1.935 | 1.519 | failed |

## Failed jobs

- `2` (mlp/none, η=0.2): boom
"""
EXPECTED_CSV = """\
job,status,model,regularizer,data,eta,m,n,test/mse,test/mse_over_pca,test/pca_mse,val/mse,wall_seconds,label,overrides,reason
0,ok,mlp,none,terrain,0.05,5,100,0.03,1.9354838709677418,0.0155,,1.0,mlp/none,compression.ratio=0.05,
1,ok,mlp,none,terrain,0.1,10,100,0.012,1.5189873417721518,0.0079,,1.0,mlp/none,compression.ratio=0.1,
2,failed,mlp,none,terrain,0.2,20,100,,,,,1.0,mlp/none,compression.ratio=0.2,boom
"""


def test_bad_paths_say_which(tmp_path: Path, capsys) -> None:
    sweep = _sweep(tmp_path / "sweep")
    missing, empty = tmp_path / "missing", tmp_path / "empty"
    empty.mkdir()
    assert compare.main([str(sweep), str(missing)]) == compare.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert (
        error == f"aelab-compare: {missing} does not exist; give a sweep's or a run's output dir\n"
    )
    assert compare.main([str(sweep), str(empty)]) == compare.EXIT_NO_RESULTS
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"no result.json under {empty};" in error
    assert compare.main([str(empty)]) == compare.EXIT_NO_RESULTS
    assert f"no result.json under {empty}; run a sweep first" in capsys.readouterr().err
    assert compare.main([str(sweep), "--out", str(sweep / "0/result.json")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert not (sweep / "comparison.md").exists()  # nothing written on bad input
