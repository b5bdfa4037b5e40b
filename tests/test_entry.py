"""Hydra's composition errors and the run's own keys come out as aelab's one line, exit 2."""

import sys

import pytest

from aelab import evaluate, train


def run_main(main, argv: list[str], monkeypatch, capfd) -> tuple[int, list[str]]:
    """Exit code and the stderr lines of an entry point run in-process with `argv`."""
    monkeypatch.setattr(sys, "argv", ["aelab", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    return stop.value.code, lines


CASES = {
    "a model key": (
        ["model.hidden_dims=[]"],
        "model.hidden_dims must be a key of model=mlp (closest: hidden_sizes)",
    ),
    "a nested key": (["data.weights.flat=0"], "data.weights must be a key of data=terrain"),
    "a key at the top": (["sed=1"], "sed must be a key of aelab-train's config (closest: seed)"),
    "a trainer key": (["trainer.max_step=3"], "(closest: max_steps, max_epochs)"),
    "another option's key": (["model=conv", "model.hidden_sizes=[8]"], "a key of model=conv"),
    "a sweep": (["-m", "model=conv,mlp", "model.hidden_dim=[3]"], "a key of model=conv"),
    "the seed": (["seed=abc"], "seed must be an integer >= 0"),
    "an option": (["model=transformer"], "model must be one of conv, linear, mlp, vae"),
    "a launcher": (["hydra/launcher=foo"], "hydra/launcher must be one of basic, joblib"),
    "a huge grid": (["data.resolution=100000"], "10000000000 inputs needs at least"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_keys_are_one_line(case, monkeypatch, capfd, tmp_path):
    argv, expected = CASES[case]
    where = "hydra.sweep.dir" if "-m" in argv else "hydra.run.dir"
    code, lines = run_main(train.main, [*argv, f"{where}={tmp_path}"], monkeypatch, capfd)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("aelab: error: ") and expected in lines[0], lines[0]


def test_an_evaluation_key_is_one_line(monkeypatch, capfd, tmp_path):
    argv = [f"ckpt_path={tmp_path}", "recon.foo=1", f"hydra.run.dir={tmp_path}"]
    code, lines = run_main(evaluate.main, argv, monkeypatch, capfd)
    assert code == 2 and len(lines) == 1, lines
    assert "recon must be a key of aelab-eval's config" in lines[0]


def test_other_hydra_errors_pass_through_unchanged(monkeypatch, capfd, tmp_path):
    argv = ["model.lr=[", f"hydra.run.dir={tmp_path}"]  # not an override Hydra can parse
    code, lines = run_main(train.main, argv, monkeypatch, capfd)
    assert code == 1
    assert any("override_grammar" in line for line in lines)
    assert not any(line.startswith("aelab: error:") for line in lines)
