"""The benchmark scripts still run against the current package and configs (tiny settings)."""

import importlib.util
import subprocess
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
    out = subprocess.run(bench.import_probe("json"), capture_output=True, text=True, check=True)
    assert 0 < float(out.stdout) < 60


def test_sweep_benchmark_compares_the_three_launchers():
    bench = load_script("bench_sweep")
    options = bench.launchers(2)
    assert options["basic"] == []
    assert "torch_threads=1" in options["basic, torch_threads=1"]
    assert "hydra/launcher=joblib" in options["joblib, n_jobs=2"]
    jobs = 1
    for override in bench.SWEEP:
        jobs *= len(override.split("=", 1)[1].split(","))
    assert jobs == 12
