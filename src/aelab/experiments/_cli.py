"""aelab-experiments: run the experiments and write their tables and figures into the docs.

    aelab-experiments                          # every experiment; docs/ and README.md updated
    aelab-experiments --only pca_equivalence   # one (or a comma list)
    aelab-experiments --quick                  # all at smoke scale into a scratch dir; docs untouched
    aelab-experiments --list                   # the experiments and where they write

An experiment is a module of `aelab.experiments` (see its docstring). Each one's sweeps run in
`outputs/experiments/<name>/` and resume there when interrupted. A failing experiment is reported
and the others go on; the exit code is then 1.
"""

import argparse
import importlib
import pkgutil
import shlex
import shutil
import signal
import sys
import time
import traceback
from datetime import date
from pathlib import Path
from types import ModuleType

from aelab.experiments import _configs, _docs, _provenance
from aelab.experiments._context import ROOT, Context, ExperimentError, find_mnist

QUICK_STAMP = ".aelab-quick"  # marks a scratch dir this command may empty


def names() -> list[str]:
    """Every experiment module of the package, sorted (names starting with "_" are not)."""
    import aelab.experiments as package

    found = pkgutil.iter_modules(package.__path__)
    return sorted(m.name for m in found if not m.name.startswith("_") and not m.ispkg)


def load(name: str) -> ModuleType:
    module = importlib.import_module(f"aelab.experiments.{name}")
    missing = [a for a in ("DOC", "jobs", "run") if not hasattr(module, a)]
    if missing:
        raise AttributeError(f"experiment {name} lacks {', '.join(missing)}")
    return module


def context(name: str, doc: str, quick: bool, work_root: Path | None, n_jobs: int) -> Context:
    """The experiment's context: its work dir (emptied under --quick) and figure dir."""
    if quick:
        work_dir = (work_root or ROOT / "outputs" / "experiments_quick") / name
        if (work_dir / QUICK_STAMP).exists():
            shutil.rmtree(work_dir)  # a quick run never reuses an older one
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / QUICK_STAMP).touch()
        figure_dir = work_dir / "figures"
    else:
        work_dir = (work_root or ROOT / "outputs" / "experiments") / name
        figure_dir = ROOT / "docs" / "figures" / name
    return Context(
        name=name,
        doc=doc,
        quick=quick,
        work_dir=work_dir.resolve(),
        figure_dir=figure_dir.resolve(),
        mnist_dir=find_mnist(),
        n_jobs=n_jobs,
        say=lambda line: print(f"  {line}", flush=True),
    )


def declared_jobs(module: ModuleType, ctx: Context) -> list[tuple[str, tuple[str, ...]]]:
    return [(job.app, tuple(job.overrides)) for job in module.jobs(ctx)]


def config_hash(module: ModuleType, name: str) -> str:
    """The hash of the full-scale jobs' configs: what the docs record and the test checks."""
    ctx = Context(name=name, doc=module.DOC, mnist_dir=find_mnist())
    return _configs.config_hash(declared_jobs(module, ctx))


def check_declared(module: ModuleType, ctx: Context) -> None:
    """Every run the experiment made is one its `jobs()` declares (so the hash covers it)."""
    declared = {
        _configs.identity(app, run, hashing=True)
        for app, overrides in declared_jobs(module, ctx)
        for run in _configs.expand(app, overrides)
    }
    extra = [(a, r) for a, r in ctx.ran if _configs.identity(a, r, hashing=True) not in declared]
    if extra:
        app, run = extra[0]
        raise ExperimentError(
            f"{ctx.name} ran {len(extra)} job(s) its jobs() does not list, e.g. aelab-{app} "
            f"{' '.join(run)}; list them in jobs() so that the config hash covers them"
        )


def check_failed(ctx: Context) -> None:
    """Failed jobs are shown in the section, and make the experiment count as failed."""
    if ctx.failed:
        first = ctx.failed[0]
        raise ExperimentError(
            f"{len(ctx.failed)} of {len(ctx.ran)} jobs failed, e.g. {first.get('job_dir')}: "
            f"{first.get('reason', 'no reason recorded')}"
        )


def write_doc(name: str, doc: str, markdown: str, provenance: _docs.Provenance) -> Path:
    path = ROOT / doc
    text = path.read_text()
    path.write_text(_docs.replace_section(text, name, markdown, provenance, doc))
    return path


def run_one(name: str, args: argparse.Namespace, command: str, commit: str) -> None:
    module = load(name)
    ctx = context(name, module.DOC, args.quick, args.work_dir, args.jobs)
    if not args.quick:  # fail on missing markers before hours of training, not after
        _docs.section((ROOT / module.DOC).read_text(), name, module.DOC)
    started = time.time()
    section = module.run(ctx)
    wall = time.time() - started
    check_declared(module, ctx)
    if args.quick:
        out = ctx.work_dir / "section.md"
        out.write_text(section.markdown.strip() + "\n")
        print(f"  {name}: {wall:.0f} s, section in {out}")
        check_failed(ctx)
        return
    provenance = _docs.Provenance(
        commit=commit,
        command=command,
        date=date.today().isoformat(),
        machine=_provenance.machine(ctx.torch_threads),
        wall_seconds=wall,
        config_hash=config_hash(module, name),
    )
    path = write_doc(name, module.DOC, section.markdown, provenance)
    print(
        f"  {name}: {wall:.0f} s, wrote {path.relative_to(ROOT)} (config hash {provenance.config_hash})"
    )
    check_failed(ctx)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="aelab-experiments",
        description="Run the experiments and write their tables and figures into the docs.",
    )
    parser.add_argument("--only", default="", help="comma list of experiments (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke scale into a scratch dir; docs untouched"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the sweeps run (default outputs/experiments, or outputs/experiments_quick)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="jobs at once per sweep (default 2)")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the sweeps as Ctrl-C does, workers included


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    available = names()
    if args.list:
        for name in available:
            print(f"{name:<28} {load(name).DOC}")
        return 0
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or available
    unknown = [n for n in chosen if n not in available]
    if unknown:
        print(
            f"aelab: error: unknown experiment {unknown[0]!r}; choose from {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    command = shlex.join(["aelab-experiments", *argv])
    # the code the figures come from: read once, before this run writes its own sections (which
    # would otherwise mark every later section "+dirty")
    commit = _provenance.commit(ROOT)
    signal.signal(signal.SIGTERM, _interrupt)
    failed = []
    for name in chosen:
        print(f"{name}", flush=True)
        try:
            run_one(name, args, command, commit)
        except KeyboardInterrupt:
            print(f"  {name}: interrupted; run the same command again to resume", file=sys.stderr)
            return 130
        except Exception as error:  # noqa: BLE001 - one experiment's failure stops only itself
            failed.append(name)
            print(f"  {name} failed: {error}", file=sys.stderr)
            if not isinstance(error, _docs.MarkerError | RuntimeError | FileNotFoundError):
                traceback.print_exc()
    if failed:
        print(
            f"aelab: error: {len(failed)} experiment(s) failed: {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
