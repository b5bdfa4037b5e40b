"""The cluster path: a sweep through hydra-submitit-launcher, run by submitit's local executor.

`hydra/launcher=submitit_local` pickles each job and runs it in a process of its own, exactly as
`hydra/launcher=slurm` does on a cluster; only the scheduler differs (a local process, not sbatch).
"""

from pathlib import Path

import yaml

from tests.conftest import TINY_TERRAIN, load_results, run_cli

SEEDS = [0, 1]


def test_sweep_runs_each_job_pickled_in_its_own_process(tmp_path: Path) -> None:
    folder = tmp_path / "multirun"
    done = run_cli(
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",  # a stuck job is killed, not left behind
        f"seed={','.join(map(str, SEEDS))}",
        "debug=tiny",
        *TINY_TERRAIN,
        "torch_threads=1",  # the two jobs run at once
        f"hydra.sweep.dir={folder}",
        cwd=tmp_path,
        process=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LocalLauncher" in (folder / "multirun.yaml").read_text()

    results = load_results(folder)
    assert [r["status"] for r in results] == ["ok", "ok"], [r.get("reason") for r in results]
    assert sorted(r["seed"] for r in results) == SEEDS
    assert sorted(Path(r["output_dir"]).name for r in results) == ["0", "1"]

    # one submitit job per sweep job: pickled in, run, its return value pickled back
    job_ids = {path.name for path in (folder / ".submitit").iterdir() if path.name.isdigit()}
    assert len(job_ids) == len(SEEDS)
    for job_id in job_ids:
        assert (folder / f".submitit/{job_id}/{job_id}_submitted.pkl").is_file()
        assert (folder / f".submitit/{job_id}/{job_id}_0_result.pkl").is_file()
    ran_as = {
        str(yaml.safe_load((folder / f"{i}/.hydra/hydra.yaml").read_text())["hydra"]["job"]["id"])
        for i in range(len(SEEDS))
    }
    assert ran_as == job_ids  # each job ran inside its own submitit job
