"""Every table and figure in README.md and docs/ is written by one experiment module of this package.

`aelab-experiments` (or `make experiments`) runs them and writes their sections into the docs.

An experiment is any module of this package whose name does not start with "_" and that
defines:

    DOC: str
        The Markdown file its section lives in, relative to the repository root
        ("docs/experiments.md" or "README.md").

    def jobs(ctx: Context) -> list[Job]
        The aelab-train / aelab-eval runs its figures come from, as Hydra override lists (comma
        lists sweep, as on the command line). The staleness check composes these configs (it
        runs nothing) and hashes them: a changed default that would change a figure fails it.

    def run(ctx: Context) -> Section
        Runs the jobs through `ctx` (finished jobs are not run again), reads their results and
        returns the section: Markdown text with tables and links to the figures it saved at
        `ctx.figure(name)`.

`Context`, `Job` and `Section` come from `aelab.experiments._context`. A context offers
`ctx.quick`, `ctx.name`, `ctx.work_dir`, `ctx.mnist_dir` (None without MNIST; `ctx.require_mnist()`
fails with one line, `ctx.mnist_overrides()` gives the t10k split), `ctx.smoke(data)` (the
overrides that shrink a run under --quick), `ctx.train(sweep, overrides)` and
`ctx.evaluate(sweep, overrides)` (one multirun each; the result.json / eval.json dicts, in job
order, each with its `job_dir`), `ctx.figure(name)` (where to save a PNG) and
`ctx.save_figure(fig, name)` (saves it, returns the Markdown image line). Every run made through
`ctx` must be one that `jobs(ctx)` lists (checked), so that the hash covers it; a failed job is
shown in the section and makes the experiment count as failed. `_report` turns sweep results
into aelab-compare's tables and figure.

The module's name is its marker: the section replaces the text between
`<!-- aelab:begin NAME -->` and `<!-- aelab:end NAME -->` in DOC, with a provenance line
(commit, command, date, machine, wall time, config hash). With `--quick` every experiment runs
at smoke scale (`ctx.quick`) into a scratch directory and the docs are not touched.
"""
