"""The evaluation registry: tasks found by module, selected by availability, run by the entry point."""

import inspect
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

import aelab.eval as registry
from aelab import evaluate
from aelab.data.terrain import TerrainDataModule
from aelab.errors import ConfigError
from aelab.models.mlp import MLPAutoencoder
from aelab.models.vae import VariationalAutoencoder
from aelab.runs.checkpoints import LoadedRun
from tests.conftest import compose_config

ORDER = [
    "reconstruction",
    "anomaly",
    "embedding",
    "denoising",
    "generation",
    "interpolation",
    "export",
]
ALL = ORDER[:-1]  # task=all: every task but export, which runs on request
PARAMETERS = {"available": ["run", "cfg"], "run": ["run", "cfg", "out"], "headline": ["result"]}


@pytest.fixture(scope="module")
def novelty_data() -> TerrainDataModule:
    """Tiny terrain trained without urban, tested with it: the anomaly task has anomalies."""
    dm = TerrainDataModule(
        resolution=5,
        classes={"flat": 1, "sea": 1, "hills": 1, "mountain": 1, "urban": 0},
        test_classes={"flat": 1, "sea": 1, "hills": 1, "mountain": 1, "urban": 1},
        train_size=128,
        val_size=16,
        test_size=64,
        seed=0,
    )
    dm.setup()
    return dm


def loaded(model, datamodule) -> LoadedRun:
    torch.manual_seed(0)
    return LoadedRun(
        model.eval(), datamodule, {"model": {}, "data": {}}, Path("x"), torch.device("cpu")
    )


def mlp(datamodule) -> LoadedRun:
    return loaded(MLPAutoencoder([1, 5, 5], 3, hidden_sizes=[8]), datamodule)


def test_every_registered_module_has_the_signature_and_a_config_block():
    cfg = compose_config("ckpt_path=x", config_name="eval")
    assert registry.ordered() == ORDER  # the registry's order, task=all's among them
    for name, module in registry.TASKS.items():
        assert name == module.NAME and module.__name__ == f"aelab.eval.{name}"
        assert isinstance(module.ORDER, int) and isinstance(module.NEEDS, tuple)
        assert all(isinstance(need, str) for need in module.NEEDS)
        for function, parameters in PARAMETERS.items():
            assert list(inspect.signature(getattr(module, function)).parameters) == parameters
        assert name in cfg, f"conf/eval.yaml has no {name}: block"


def test_task_all_selects_exactly_the_available_tasks(novelty_data):
    cfg = compose_config("ckpt_path=x", config_name="eval")
    plain = mlp(novelty_data)
    vae = loaded(VariationalAutoencoder([1, 5, 5], 3, hidden_sizes=[8]), novelty_data)
    assert registry.select_tasks("all", vae, cfg) == ALL
    assert registry.select_tasks("all", plain, cfg) == [t for t in ALL if t != "generation"]
    # trained on every class it is tested on: no anomalies to find
    normal = compose_config("ckpt_path=x", "anomaly.normal_classes=[0,1,2,3,4]", config_name="eval")
    assert "anomaly" not in registry.select_tasks("all", plain, normal)
    assert registry.select_tasks(["denoising", "reconstruction", "denoising"], plain, cfg) == [
        "denoising",
        "reconstruction",
    ]


# --- the entry point, in process ----------------------------------------------------------------
@pytest.fixture
def eval_main(monkeypatch, capsys, tmp_path, novelty_data):
    """Run aelab-eval's main() on a tiny in-memory run; returns (exit code, error line, dir)."""

    def run(*args: str) -> tuple[int, str | None, Path]:
        loaded_run = mlp(novelty_data)
        monkeypatch.setattr(evaluate, "load_run", lambda *a, **k: loaded_run)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", ["aelab-eval", "ckpt_path=x", "hydra.run.dir=eval", *args])
        code = 0
        try:
            evaluate.main()
        except SystemExit as exited:
            code = exited.code
        finally:
            GlobalHydra.instance().clear()
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("aelab: error:")]
        assert len(lines) <= 1 and "Traceback" not in err, err[-2000:]
        return code, lines[0] if lines else None, tmp_path / "eval"

    return run


def fake_task(name: str, order: int, reason: str | None, calls: list[str]) -> ModuleType:
    """A task module built at runtime: records its run, one headline number."""

    def available(run, cfg):
        return reason

    def run(run, cfg, out):
        calls.append(name)
        return {"value": float(order), "figures": []}

    def headline(result):
        return {f"{name}/value": result["value"]}

    module = ModuleType(f"tests.fake_{name}")
    module.NAME, module.ORDER, module.NEEDS = name, order, ()
    module.available, module.run, module.headline = available, run, headline
    return module


def test_task_all_runs_exactly_the_available_tasks_in_order(monkeypatch, eval_main):
    calls: list[str] = []
    for name in list(registry.TASKS):
        monkeypatch.delitem(registry.TASKS, name)
    for task in (
        fake_task("late", 3, None, calls),
        fake_task("never", 2, "needs what this run lacks; drop it", calls),
        fake_task("early", 1, None, calls),
    ):
        monkeypatch.setitem(registry.TASKS, task.NAME, task)
    code, line, out = eval_main("task=all")
    assert code in (0, None) and line is None
    assert calls == ["early", "late"]
    report = json.loads((out / "eval.json").read_text())
    assert list(report["tasks"]) == ["early", "late"]
    result = json.loads((out / "result.json").read_text())
    assert result["tasks"] == ["early", "late"]
    assert result["metrics"] == {"early/value": 1.0, "late/value": 3.0}


def test_a_task_added_at_runtime_is_run_by_the_entry_point(monkeypatch, eval_main):
    calls: list[str] = []
    monkeypatch.setitem(registry.TASKS, "demo", fake_task("demo", 99, None, calls))
    assert registry.ordered()[-1] == "demo"
    code, line, out = eval_main("task=[reconstruction,demo]")
    assert code in (0, None) and line is None and calls == ["demo"]
    report = json.loads((out / "eval.json").read_text())
    assert list(report["tasks"]) == ["reconstruction", "demo"]
    assert report["tasks"]["demo"] == {"value": 99.0, "figures": []}
    metrics = json.loads((out / "result.json").read_text())["metrics"]
    assert metrics["demo/value"] == 99.0 and "reconstruction/mse" in metrics


def test_an_unknown_task_is_one_line_listing_the_registry(eval_main):
    code, line, out = eval_main("task=[reconstruction,recon]")
    assert code == 2 and "'recon'" in line
    assert all(name in line for name in ORDER)
    assert not (out / "eval.json").exists()


def test_a_task_the_run_cannot_do_is_refused_before_any_work(eval_main):
    code, line, out = eval_main("task=[reconstruction,generation]")
    assert code == 2 and "task=generation" in line and "MLPAutoencoder" in line
    assert "model=vae" in line
    assert not list(out.glob("*.png")) and not (out / "eval.json").exists()


def test_bad_settings_of_a_task_are_refused_before_any_work(eval_main, novelty_data):
    code, line, out = eval_main("task=[reconstruction,interpolation]", "interpolation.steps=2")
    assert code == 2 and "interpolation.steps" in line
    assert not list(out.glob("*.png"))
    cfg = compose_config("ckpt_path=x", "denoising.kind=blur", config_name="eval")
    with pytest.raises(ConfigError, match="denoising.kind"):
        registry.select_tasks("all", mlp(novelty_data), cfg)  # task=all too: not skipped
