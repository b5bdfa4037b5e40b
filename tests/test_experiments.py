"""The documented experiments: their docs match today's configs, and the machinery works.

- every experiment's section in the docs records the hash of the configs it came from, and that
  hash is what today's configs compose to (else: regenerate it, the message says how);
- a changed default changes the hash, a path or thread count does not;
- writing a section touches nothing outside its markers;
- a sweep whose jobs are done is not run again; a half-done one runs only what is missing;
- `aelab-experiments --quick` runs every experiment end to end on tiny data.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hydra import initialize_config_dir

from aelab.config import CONFIG_DIR
from aelab.experiments import _cli, _configs, _context, _docs
from aelab.experiments._context import ROOT, Context, Job

EXPERIMENTS = _cli.names()


def regenerate(name: str) -> str:
    return f'make experiments ARGS="--only {name}"'


# --- (a) the docs are what today's configs give ---------------------------------------------------
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_docs_match_todays_configs(name):
    module = _cli.load(name)
    text = (ROOT / module.DOC).read_text()
    if not _docs.has_section(text, name):
        pytest.fail(f"{module.DOC} has no '<!-- aelab:begin {name} -->' section; add its markers")
    recorded = _docs.recorded_hash(text, name, module.DOC)
    if recorded is None:
        pytest.fail(
            f"{name}: the section in {module.DOC} has no provenance line (never generated); "
            f"run {regenerate(name)}"
        )
    current = _cli.config_hash(module, name)
    assert current == recorded, (
        f"{name}: the configs behind {module.DOC} changed (hash {recorded} in the docs, {current} "
        f"today); run {regenerate(name)}"
    )


def test_every_experiment_declares_its_doc_and_jobs():
    assert {"pca_equivalence", "compression_curve", "mnist_recipes"} <= set(EXPERIMENTS)
    for name in EXPERIMENTS:
        module = _cli.load(name)
        assert (ROOT / module.DOC).is_file(), f"{name}: DOC {module.DOC} does not exist"
        jobs = module.jobs(Context(name=name, doc=module.DOC))
        assert jobs and all(job.app in ("train", "eval") for job in jobs), name


# --- (b) the hash follows the configs -----------------------------------------------------------
SWEEP = [("train", ("experiment=compression_curve", "model=mlp", "compression.ratio=0.05,0.1"))]


def test_hash_changes_with_a_default_and_not_with_paths(tmp_path, monkeypatch):
    before = _configs.config_hash(SWEEP)
    same = [(app, (*o, "torch_threads=1", "callbacks.progress_bar=null")) for app, o in SWEEP]
    assert _configs.config_hash(same) == before  # where and how fast: not the result
    fewer = [("train", ("experiment=compression_curve", "model=mlp", "compression.ratio=0.05"))]
    assert _configs.config_hash(fewer) != before  # one job less

    conf = tmp_path / "conf"
    shutil.copytree(CONFIG_DIR, conf)
    train = conf / "train.yaml"
    text = train.read_text()
    assert "\nseed: 42" in text
    train.write_text(text.replace("\nseed: 42", "\nseed: 43"))
    monkeypatch.setattr(_configs, "CONFIG_DIR", str(conf))
    assert _configs.config_hash(SWEEP) != before  # a changed default: the docs are stale


def test_runs_that_differ_in_seed_alone_compose_as_if_each_were_composed(tmp_path, monkeypatch):
    """Seeds are composed once per configuration and set before resolving: what each run would
    compose to on its own, interpolations of the seed included."""
    conf = tmp_path / "conf"
    shutil.copytree(CONFIG_DIR, conf)
    data = conf / "data" / "terrain.yaml"
    data.write_text(re.sub(r"\nseed: .*", "\nseed: ${seed}", data.read_text()))
    monkeypatch.setattr(_configs, "CONFIG_DIR", str(conf))
    sweep = ("model=mlp", "compression.ratio=0.05,0.1", "seed=1,2")
    configs = _configs.job_configs([("train", sweep)])
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        one_by_one = [_configs.composed("train", run) for run in _configs._expand("train", sweep)]
    assert [c["config"] for c in configs] == one_by_one
    assert [c["config"]["data"]["seed"] for c in configs] == [1, 2, 1, 2]


def test_an_evaluation_hash_covers_only_the_settings_of_the_tasks_it_runs():
    """A new task's settings block leaves the figures of other tasks current."""

    def digest(*overrides: str) -> str:
        return _configs.config_hash([("eval", ["ckpt_path=run", *overrides])])

    anomaly = digest("task=[anomaly]")
    assert digest("task=[anomaly]", "interpolation.pairs=3") == anomaly
    assert digest("task=[anomaly]", "anomaly.contamination=0.2") != anomaly
    embedding = digest("task=[embedding]")
    assert digest("task=[embedding]", "probe.max_fit=5") != embedding  # a declared setting
    assert digest("task=all", "interpolation.pairs=3") != digest("task=all")
    # a data key an evaluation leaves null keeps the checkpoint's value: a new one changes nothing
    assert digest("task=[anomaly]", "+data.path=null") == anomaly
    assert digest("task=[anomaly]", "data.split=t10k") != anomaly


def test_expand_follows_hydras_job_order():
    runs = _configs.expand("train", ["experiment=pca_equivalence", "compression.ratio=0.1,0.2"])
    assert [r[:2] for r in runs] == [
        ["model.variant=uncentred", "compression.ratio=0.1"],
        ["model.variant=uncentred", "compression.ratio=0.2"],
        ["model.variant=pca", "compression.ratio=0.1"],
        ["model.variant=pca", "compression.ratio=0.2"],
    ]


# --- (c) markers and provenance -------------------------------------------------------------------
PROVENANCE = _docs.Provenance(
    commit="abc1234+dirty",
    command="aelab-experiments --only demo",
    date="2026-11-28",
    machine="a CPU (2 cores), 1 torch thread per job",
    wall_seconds=12.3,
    config_hash="0123456789ab",
)


def test_section_round_trip_keeps_the_rest():
    before = "# Title\n\nProse before.\n\n<!-- aelab:begin demo -->\n"
    after = "<!-- aelab:end demo -->\n\nProse after, <!-- aelab:begin other --> untouched.\n"
    text = before + "old table\n" + after
    assert _docs.recorded_hash(text, "demo") is None  # marked, never generated
    new = _docs.replace_section(text, "demo", "| a | b |\n|---|---:|", PROVENANCE)
    assert new.startswith(before) and new.endswith(after)
    assert "old table" not in new and "| a | b |" in new
    assert _docs.recorded_hash(new, "demo") == "0123456789ab"
    assert "commit abc1234+dirty" in new and "`aelab-experiments --only demo`" in new
    again = _docs.replace_section(new, "demo", "| a | b |\n|---|---:|", PROVENANCE)
    assert again == new  # regenerating the same section changes nothing


def test_missing_or_doubled_markers_are_refused():
    with pytest.raises(_docs.MarkerError, match="aelab:begin demo"):
        _docs.replace_section("no markers\n", "demo", "x", PROVENANCE, "README.md")
    doubled = "<!-- aelab:begin demo -->\n<!-- aelab:end demo -->\n" * 2
    with pytest.raises(_docs.MarkerError, match="exactly one"):
        _docs.section(doubled, "demo")


def test_unknown_experiment_is_one_line(capsys):
    assert _cli.main(["--only", "no_such_experiment"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aelab: error: unknown experiment 'no_such_experiment'")
    assert len(err.splitlines()) == 1


def test_runs_outside_jobs_are_refused():
    module = SimpleNamespace(
        DOC="README.md",
        jobs=lambda ctx: [Job("train", ("model=mlp", "compression.ratio=0.05,0.2"))],
    )
    ctx = Context(name="demo", doc="README.md")
    ctx.ran = [
        ("train", ["model=mlp", "compression.ratio=0.2", "ckpt_path=last", "torch_threads=1"])
    ]
    _cli.check_declared(module, ctx)  # declared (resume and thread settings aside)
    ctx.ran.append(("train", ["model=mlp", "compression.ratio=0.1"]))
    with pytest.raises(_context.ExperimentError, match="does not list"):
        _cli.check_declared(module, ctx)


# --- resume: finished jobs are not run again ------------------------------------------------------
def _fake_job(sweep_dir: Path, subdir: str, overrides: list[str], status: str) -> None:
    job = sweep_dir / subdir
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if status:
        (job / "result.json").write_text(json.dumps({"status": status, "overrides": overrides}))


def test_done_jobs_are_not_run_again(tmp_path, monkeypatch):
    launched = []
    monkeypatch.setattr(_context, "_run_all", lambda commands, *a: launched.append(commands))
    ctx = Context(name="demo", doc="README.md", work_dir=tmp_path, say=lambda line: None)
    sweep = ["model=linear,mlp", "compression.ratio=0.05"]
    extra = ["ckpt_path=last", "callbacks.progress_bar=null", "torch_threads=1"]
    _fake_job(tmp_path / "s", "0", ["model=linear", "compression.ratio=0.05", *extra], "ok")
    _fake_job(tmp_path / "s", "1", ["model=mlp", "compression.ratio=0.05", *extra], "ok")
    results = ctx.train("s", sweep)
    assert launched == []
    assert [Path(r["job_dir"]).name for r in results] == ["0", "1"]

    (tmp_path / "s" / "1" / "result.json").unlink()  # interrupted: job 1 never finished
    results = ctx.train("s", sweep)  # (the fake launch runs nothing: job 1 stays unfinished)
    (command,) = launched[0]  # only the missing job, into its own folder, resuming
    assert "model=mlp" in command and "model=linear" not in command
    assert "hydra.sweep.subdir=1" in command and "ckpt_path=last" in command
    assert [r["status"] for r in results] == ["ok", "failed"]  # reported, not hidden

    shutil.rmtree(tmp_path / "s" / "1")  # a job that never started, and nothing runs it
    with pytest.raises(_context.ExperimentError, match="left no result.json"):
        ctx.train("s", sweep)


# --- (d) every experiment at smoke scale ------------------------------------------------------------
QUARTERS = [",".join(EXPERIMENTS[i::4]) for i in range(4)]  # four tests: pytest -n spreads them


@pytest.mark.parametrize("names", QUARTERS)
def test_quick_runs_every_experiment(names, tmp_path, mnist_dir):
    docs = {p: p.read_bytes() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]}
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["AELAB_MNIST_DIR"] = str(mnist_dir)
    work = tmp_path / "work"
    # each job in-process (--jobs 1): most of a smoke run is imports
    done = subprocess.run(
        [sys.executable, "-m", "aelab.experiments", "--quick", "--jobs", "1", "--only", names]
        + ["--work-dir", str(work)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    for name in names.split(","):
        section = work / name / "section.md"
        assert section.is_file(), f"{name} wrote no section"
        assert section.read_text().strip(), f"{name}: empty section"
    assert {p: p.read_bytes() for p in docs} == docs  # --quick leaves the docs alone


def test_every_section_of_a_run_records_the_commit_the_run_started_from(monkeypatch):
    """The run writes its own sections: reading the commit again for each would mark every
    section after the first "+dirty" although the code did not change."""
    states = iter(["abc1234", "abc1234+dirty", "abc1234+dirty"])
    monkeypatch.setattr(_cli._provenance, "commit", lambda root: next(states))
    recorded = []
    monkeypatch.setattr(
        _cli, "run_one", lambda name, args, command, commit: recorded.append(commit)
    )
    assert _cli.main(["--only", "pca_equivalence,compression_curve"]) == 0
    assert recorded == ["abc1234", "abc1234"]


def test_the_dashboard_needs_a_chromium_except_in_a_quick_run(monkeypatch):
    from aelab.experiments import dashboard

    monkeypatch.delenv("AELAB_CHROMIUM", raising=False)
    monkeypatch.setattr(dashboard.shutil, "which", lambda name: None)
    assert dashboard.browser(quick=True) is None  # a smoke run goes on without pictures
    with pytest.raises(_context.ExperimentError, match="apt install chromium"):
        dashboard.browser()
    monkeypatch.setenv("AELAB_CHROMIUM", "/opt/chrome")
    assert dashboard.browser() == "/opt/chrome"


ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~$-])/(?:[\w.-]+/)+[\w.-]*")


def test_generated_sections_name_no_machine_path():
    """A generated section shows paths relative to the project or as $AELAB_MNIST_DIR."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        for name in EXPERIMENTS:
            if _docs.has_section(text, name):
                section = _docs.section(text, name, str(path))
                found += [f"{path.name} {name}: {m}" for m in ABSOLUTE_PATH.findall(section)]
    assert found == [], found
    assert ABSOLUTE_PATH.findall("see /work/shared/data/mnist and `--mnist /home/me/x`") == [
        "/work/shared/data/mnist",
        "/home/me/x",
    ]
    assert ABSOLUTE_PATH.findall("(../figures/a.png) $AELAB_MNIST_DIR/x m / n test/mse") == []
