"""What repeats exactly: the same conv job on this machine with the same threads, alone or as a
joblib sweep's job; and what trainer.deterministic=true pins for other CPUs."""

import json
from pathlib import Path

from tests.conftest import TINY_TERRAIN, run_cli

CONV = ["model=conv", "compression.ratio=0.05", *TINY_TERRAIN, "torch_threads=1", "~logger"]


def _metrics(folder: Path) -> dict:
    result = json.loads(next(folder.rglob("result.json")).read_text())
    assert result["status"] == "ok", result.get("reason")
    return {"tested": result["metrics"], "last": result["last"]["metrics"]}


def test_a_conv_job_repeats_bit_for_bit_alone_and_under_joblib(tmp_path):
    alone = run_cli(*CONV, f"hydra.run.dir={tmp_path / 'alone'}", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr[-2000:]
    swept = run_cli(
        "-m",
        *CONV,
        "seed=42,7",  # two jobs: the joblib workers really run them
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={tmp_path / 'swept'}",
        cwd=tmp_path,
    )
    assert swept.returncode == 0, swept.stderr[-2000:]
    same_seed = _metrics(tmp_path / "swept" / "0")
    assert same_seed == _metrics(tmp_path / "alone")  # every metric, to the last bit
    assert _metrics(tmp_path / "swept" / "1")["last"] != same_seed["last"]  # the seed matters


def test_deterministic_pins_the_cpu_libraries_and_keeps_given_settings(monkeypatch):
    import torch

    from aelab.determinism import PINNED, pin_cpu_kernels

    for name in PINNED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")  # the user's own choice stays
    was = torch.are_deterministic_algorithms_enabled()
    try:
        chosen = pin_cpu_kernels()
        assert chosen == {**PINNED, "ONEDNN_MAX_CPU_ISA": "SSE41"}
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(was)
