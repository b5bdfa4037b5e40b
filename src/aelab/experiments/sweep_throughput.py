"""sweep_throughput: a terrain sweep under joblib (2 jobs at once) vs the basic launcher.

`scripts/bench_sweep.py` runs the same 12-job sweep under the basic launcher (torch's default
threads, then `torch_threads=1`) and under joblib, in alternating rounds; its figures are kept in
`work_dir/sweep.json`, so an interrupted run does not redo it. Quick mode: a 2-job sweep on tiny
data, one epoch, one round.
"""

from typing import Any

from aelab.experiments._context import Context, Job, Section
from aelab.experiments.performance import machine_line, script, smoke_data

DOC = "docs/experiments.md"
SWEEP = ["model=linear,mlp", "compression.ratio=0.01,0.02,0.05,0.1,0.2,0.5"]
EPOCHS, ROUNDS, N_JOBS = 20, 2, 2


def sweep(ctx: Context) -> list[str]:
    return ["model=linear", "compression.ratio=0.01,0.1"] if ctx.quick else SWEEP


def epochs(ctx: Context) -> int:
    return 1 if ctx.quick else EPOCHS


def arguments(ctx: Context) -> list[str]:
    """bench_sweep.py's arguments (its defaults spelled out, so the docs show what ran)."""
    rounds = 1 if ctx.quick else ROUNDS
    extra = ["--extra", *smoke_data(ctx)] if ctx.quick else []
    return [
        "--rounds",
        str(rounds),
        "--epochs",
        str(epochs(ctx)),
        "--n-jobs",
        str(N_JOBS),
        *(["--sweep", *sweep(ctx)] if ctx.quick else []),
        *extra,
    ]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", (*sweep(ctx), f"trainer.max_epochs={epochs(ctx)}", *smoke_data(ctx)))]


def markdown(found: dict[str, Any]) -> str:
    joblib = found["joblib"]
    label = {
        "basic": "basic (torch's default threads)",
        "basic, torch_threads=1": "basic, `torch_threads=1`",
        joblib: f"`hydra/launcher=joblib hydra.launcher.n_jobs={found['n_jobs']}`",
    }
    lines = [
        "| launcher | median wall | single rounds | speed-up of joblib |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in found["median"].items():
        rounds = ", ".join(f"{s:.1f} s" for s in found["walls"][name])
        speedup = f"{found['speedup'][name]:.2f}×" if name in found["speedup"] else ""
        lines.append(f"| {label[name]} | {seconds:.1f} s | {rounds} | {speedup} |")
    grid = " ".join(found["sweep"] + found["extra"])
    return (
        f"`{found['command']}`: the {found['jobs']}-job terrain sweep `{grid}`, {found['epochs']} "
        f"epoch{'s' if found['epochs'] != 1 else ''} per job, median wall of {found['rounds']} "
        f"alternating round{'s' if found['rounds'] != 1 else ''}. {machine_line([found])}\n\n"
        + "\n".join(lines)
        + "\n"
    )


def run(ctx: Context) -> Section:
    return Section(markdown(script(ctx, "sweep", ["bench_sweep.py", *arguments(ctx)])))
