"""The benchmark scripts still run against the current package and configs (tiny settings)."""

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_overhead_benchmark_pairs_each_aelab_epoch_with_a_hand_written_one(tmp_path):
    bench = load_script("bench_overhead")
    x = torch.rand(300, 1, 28, 28)
    timer = bench.paired_epochs(x, epochs=2, batch_size=128, tmp=tmp_path)
    assert len(timer.hand) == len(timer.batches) == len(timer.whole) == 2
    assert timer.hand_written.epochs_run == 2
    assert all(0 < b <= w for b, w in zip(timer.batches, timer.whole, strict=True))
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()  # aelab-train's own callbacks ran


def test_startup_probe_prints_seconds_since_its_launch():
    bench = load_script("bench_startup")
    started = time.monotonic()
    out = subprocess.run(bench.import_probe("json"), capture_output=True, text=True, check=True)
    lived = time.monotonic() - started
    assert 0 < float(out.stdout) <= lived + 0.02  # within the probe's life (/proc: 10 ms ticks)


def test_sweep_benchmark_compares_the_three_launchers():
    bench = load_script("bench_sweep")
    options = bench.launchers(2)
    assert options["basic"] == []
    assert "torch_threads=1" in options["basic, torch_threads=1"]
    assert "hydra/launcher=joblib" in options["joblib, n_jobs=2"]
    jobs = 1
    for override in bench.SWEEP:
        jobs *= len(override.split("=", 1)[1].split(","))
    assert jobs == 12 == bench.count_jobs(bench.SWEEP)
    assert bench.count_jobs(["model=linear", "compression.ratio=0.01,0.1"]) == 2


def test_overhead_quartiles_of_a_single_pair_are_the_pair_itself():
    bench = load_script("bench_overhead")
    assert bench.quartiles([1.25]) == (1.25, 1.25)
    low, high = bench.quartiles([1.0, 2.0, 3.0, 4.0, 5.0])
    assert low < 3.0 < high


def test_linear_convergence_writes_what_it_prints_as_json(tmp_path, mnist_dir):
    out = tmp_path / "linear.json"
    script = SCRIPTS / "bench_linear_convergence.py"
    argv = [sys.executable, str(script), "--mnist", str(mnist_dir), "--held-out", "50"]
    argv += ["--ms", "2", "--max-epochs", "1", "--json", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["max_epochs"] == 1 and report["target"] == 1.005
    assert report["train"] > 0 and report["test"] > 0
    (row,) = report["rows"]
    assert row["m"] == 2 and row["svd_seconds"] > 0 and row["ratio"] > 0
    assert (row["epochs"] is None) == (row["seconds"] is None) == (row["ratio"] > 1.005)
    printed = done.stdout.splitlines()[-1].split()  # the table row it printed
    assert printed[0] == "2" and printed[3] == f"{row['ratio']:.4f}"


def test_dem_benchmark_times_cold_cached_and_banded_cuts():
    bench = load_script("bench_dem")
    figures = bench.measure(size=200)  # 6 km: 121 windows of 1000 m at a 500 m stride
    assert figures["windows"] == 11 * 11
    assert figures["cold_windows_per_s"] == figures["windows"] / figures["cold_s"]
    assert figures["cached_s"] > 0 and figures["banded_s"] > 0
