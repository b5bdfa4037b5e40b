"""The MNIST one-class protocol as an experiment: one training and one evaluation multirun."""

import re

from aelab.experiments import anomaly_mnist
from aelab.experiments._context import Context


def test_anomaly_mnist_multiruns_give_the_per_digit_table(mnist_dir, tmp_path):
    ctx = Context(
        name="anomaly_mnist",
        doc=anomaly_mnist.DOC,
        quick=True,  # digits 0 and 1, 200/50/50 images, one epoch
        work_dir=tmp_path / "work",
        figure_dir=tmp_path / "figures",
        mnist_dir=mnist_dir,
        n_jobs=1,  # the basic launcher: each sweep is one process
        say=lambda line: None,
    )
    section = anomaly_mnist.run(ctx).markdown

    # one training run and one evaluation per digit, in the two sweep folders
    assert sorted(p.parent.name for p in (tmp_path / "work/train").glob("*/result.json")) == [
        "0",
        "1",
    ]
    assert len(list((tmp_path / "work/eval").glob("*/eval.json"))) == 2
    rows = {
        cells[0]: cells[1:]
        for line in section.splitlines()
        if (cells := [c.strip(" *") for c in line.strip("|").split("|")])[0] in ("0", "1", "mean")
    }
    assert list(rows) == ["0", "1", "mean"]
    # the fixture's digits are bars at different heights: the linear path starts at PCA, and
    # both detectors tell a bar elsewhere from the learned one
    for digit in ("0", "1"):
        auroc, pca_auroc = float(rows[digit][0]), float(rows[digit][1])
        assert auroc > 0.9 and pca_auroc > 0.9
    assert abs(float(rows["mean"][0]) - (float(rows["0"][0]) + float(rows["1"][0])) / 2) <= 1e-4
    assert re.search(r"\d+ s wall in all here", section)
    assert (tmp_path / "figures/anomaly_mnist.png").stat().st_size > 0
