"""A plain run prints no warnings: none that the shipped defaults cause, none from the libraries
that aelab cannot act on; warnings about a user's own settings still show."""

import warnings

from aelab.train import quiet_library_warnings
from tests.conftest import TINY_TERRAIN, load_results, run_cli

LEAFSPEC = (
    "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec) "
    "and treespec.is_leaf()` instead."
)


def test_default_training_and_evaluation_emit_no_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "error")  # any warning ends the run with an error
    done = run_cli(*TINY_TERRAIN, "torch_threads=1", cwd=tmp_path, process=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = load_results(tmp_path / "outputs")
    evaluated = run_cli(
        f"ckpt_path={result['output_dir']}",
        cwd=tmp_path,
        command="aelab-eval",
        timeout=300,
        process=True,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]


def test_a_users_own_logging_interval_still_warns(tmp_path):
    done = run_cli(
        *TINY_TERRAIN,
        "trainer.max_epochs=1",
        "trainer.log_every_n_steps=50",
        cwd=tmp_path,
        process=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "smaller than the logging interval Trainer(log_every_n_steps=50)" in done.stderr


def test_library_filter_matches_message_and_module_only():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_library_warnings()
        for module in ("lightning.pytorch.utilities._pytree", "aelab.models.base"):
            warnings.warn_explicit(LEAFSPEC, FutureWarning, "x.py", 1, module=module)
        warnings.warn_explicit("another", FutureWarning, "x.py", 1, module=module)
    assert [(str(w.message), w.category) for w in caught] == [
        (LEAFSPEC, FutureWarning),
        ("another", FutureWarning),
    ]
