"""aelab-compare: one table and one figure from the result.json files of sweeps and runs.

    aelab-compare outputs/multirun/<timestamp>          (or: aelab-compare sweep_dir=<dir>)
    aelab-compare <sweep dir> <run dir> ... [--out DIR]  (several: written into the first, or DIR)
    aelab-compare <dir> --x data.train_size --metrics test/mse,test/noise_mse

Reads every ``result.json`` under the directories and writes into the first (or ``--out``):

- ``comparison.csv``: one row per job (model, regularizer, data, eta, m, test metrics, status, ...);
- ``comparison.md``: per dataset, tables with rows = model/regularizer (plus any other swept
  setting), columns = eta (or the ``--x`` setting), cells = the metric; the closed-form PCA bound
  as its own row; then the failed jobs with their reasons;
- ``comparison_cells.csv``: one row per table cell: n finished jobs, failed jobs, mean, standard
  deviation, minimum, maximum;
- ``compression_curve.png``: the metric against eta (log x), one line per row, PCA dashed, one
  panel per dataset;
- ``comparison/``: the same figure and table for TensorBoard, next to the runs' own logs.

Jobs that differ only in the keys ``--over`` (default ``seed``; e.g. ``--over seed,data.seed``)
share a row: each cell is their mean ± standard deviation (3 jobs or more) or [min–max] (2), with
n and the failed jobs counted; error bars in the figure, a band in TensorBoard.

An ordered run (``ordered=nested|matryoshka``: non-empty ``prefix_sizes``) is one curve on the eta
axis: a row "... ordered=nested (one run)" with a point per prefix size k at eta = k / n
(``test/mse@k``), a csv row per point; its ``test/pca_mse@k`` fill the PCA row where no job ran.

Modules: ``runs`` (result.json -> `Job`, prefix points), ``grouping`` (rows, columns, cell
values, PCA bounds), ``tables`` (Markdown tables), ``report`` (comparison.md, comparison.csv),
``figures``, ``tensorboard``, ``cli`` (the command, `main`).
"""

from aelab.compare.cli import (
    DEFAULT_METRICS,
    EXIT_BAD_INPUT,
    EXIT_NO_RESULTS,
    fail,
    main,
    parse_args,
)
from aelab.compare.figures import PCA_MARKERS, PCA_STYLES, TINY, curve_figure
from aelab.compare.grouping import LABEL_KEYS, PCA_ROWS, assign_labels, by_dataset
from aelab.compare.report import report_csv, report_markdown
from aelab.compare.runs import Job, jobs_from_results, load_jobs, whole_runs
from aelab.compare.tables import (
    SHOWN_IF_PRESENT,
    markdown_table,
    metric_rows,
    metric_tables,
    pca_rows,
)
from aelab.compare.tensorboard import write_tensorboard

__all__ = [
    "DEFAULT_METRICS",
    "EXIT_BAD_INPUT",
    "EXIT_NO_RESULTS",
    "LABEL_KEYS",
    "PCA_MARKERS",
    "PCA_ROWS",
    "PCA_STYLES",
    "SHOWN_IF_PRESENT",
    "TINY",
    "Job",
    "assign_labels",
    "by_dataset",
    "curve_figure",
    "fail",
    "jobs_from_results",
    "load_jobs",
    "main",
    "markdown_table",
    "metric_rows",
    "metric_tables",
    "parse_args",
    "pca_rows",
    "report_csv",
    "report_markdown",
    "whole_runs",
    "write_tensorboard",
]
