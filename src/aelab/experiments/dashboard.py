"""dashboard: the README's sweep opened in TensorBoard, read and photographed as a newcomer sees it.

The sweep ``model=linear,mlp compression.ratio=0.02,0.05,0.1`` on terrain (default budget), then
``aelab-compare``; TensorBoard serves the sweep folder on the loopback address. The section lists
what its HTTP API answers (the runs, the HParams columns in order, the best run by
``test/mse_over_pca``) and four screenshots taken with a headless Chromium: Time Series with the
run names, the curve against m in Custom Scalars, the HParams table, a labelled reconstruction
grid. Chromium is found on PATH (``chromium``, ``chromium-browser``, ``google-chrome``) or in
``$AELAB_CHROMIUM``.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aelab import compare
from aelab.compare import markdown_table
from aelab.experiments._context import Context, ExperimentError, Job, Section

DOC = "docs/dashboard.md"
SWEEP = ["model=linear,mlp", "compression.ratio=0.02,0.05,0.1"]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# (file, what it shows, the page: TensorBoard's own URL parameters set filters and smoothing)
VIEWS = (
    ("runs", "Time Series: every job named by what varies", "?tagFilter=curve#timeseries"),
    (
        "curve",
        "Custom Scalars: test/mse against the latent size m, each model beside PCA",
        "#custom_scalars&_smoothingWeight=0",
    ),
    ("hparams", "HParams: the varied columns first, then the metrics", "#hparams"),
    (
        "reconstructions",
        "Images: a labelled grid (input over model), titled with model, η and m",
        "?tagFilter=reconstructions&runFilter=mlp#timeseries",
    ),
)


def overrides(ctx: Context) -> list[str]:
    if ctx.quick:  # two models at two ratios: every view has something to show
        return ["model=linear,mlp", "compression.ratio=0.05,0.1", *ctx.smoke()]
    return [*SWEEP, *ctx.smoke()]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def browser(quick: bool = False) -> str | None:
    """The Chromium to photograph with; `ExperimentError` naming the fix when there is none
    (a quick run goes on without pictures: None)."""
    given = os.environ.get("AELAB_CHROMIUM")
    found = given or next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if not found and quick:
        return None
    if not found:
        raise ExperimentError(
            "dashboard needs a Chromium for its screenshots: install one (Debian: apt install "
            "chromium) or set AELAB_CHROMIUM=<path to chromium>"
        )
    return found


@contextmanager
def tensorboard(logdir: Path) -> Iterator[int]:
    """TensorBoard on `logdir`, on a free loopback port; yields the port once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("tensorboard")),
            f"--logdir={logdir}",
            "--host=127.0.0.1",
            f"--port={port}",
            "--load_fast=false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not ask(port, "/data/runs", quiet=True):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ExperimentError(f"TensorBoard did not start: {server.stderr.read()[-300:]}")
            time.sleep(0.5)
        time.sleep(3)  # one more reload: every event file read
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)


def ask(port: int, path: str, body: dict | None = None, quiet: bool = False) -> Any:
    """TensorBoard's answer to `path` (POST `body` as JSON where the page posts one)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return json.load(response)
    except OSError:
        if quiet:
            return None
        raise


def screenshot(chromium: str, url: str, path: Path, size: tuple[int, int]) -> None:
    """A headless Chromium's picture of `url` once the page has settled."""
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={size[0]},{size[1]}",
            "--virtual-time-budget=20000",
            f"--screenshot={path}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 or not path.is_file():
        raise ExperimentError(f"{chromium} could not photograph {url}: {done.stderr[-300:]}")


SESSIONS = {
    "experimentName": "",
    "allowedStatuses": ["STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING", "STATUS_UNKNOWN"],
    "colParams": [],
    "startIndex": 0,
    "sliceSize": 1000,
}


def run(ctx: Context) -> Section:
    chromium = browser(ctx.quick)  # before training: a missing browser fails in one line, at once
    results = ctx.train("sweep", overrides(ctx))
    sweep_dir = (ctx.work_dir / "sweep").resolve()
    if compare.main([str(sweep_dir)]) != 0:
        raise ExperimentError(f"aelab-compare {sweep_dir} failed")
    with tensorboard(sweep_dir) as port:
        runs = ask(port, "/data/runs")
        experiment = ask(port, "/data/plugin/hparams/experiment", {"experimentName": ""})
        groups = ask(port, "/data/plugin/hparams/session_groups", SESSIONS)["sessionGroups"]
        pictures = (
            [] if chromium else ["(no Chromium on this machine: a quick run without pictures)"]
        )
        for name, caption, page in VIEWS if chromium else ():
            path = ctx.figure(name)
            size = (1800, 760) if name == "hparams" else (1400, 800)
            screenshot(chromium, f"http://127.0.0.1:{port}/{page}", path, size)
            pictures.append(f"**{caption}**\n\n![{caption}]({ctx.link(path)})")
    return Section(markdown(ctx, results, runs, experiment, groups, pictures))


def markdown(
    ctx: Context,
    results: list[dict],
    runs: list[str],
    experiment: dict,
    groups: list[dict],
    pictures: list[str],
) -> str:
    columns = [(h["name"], h.get("differs", False)) for h in experiment.get("hparamInfos", [])]
    metrics = [m["name"]["tag"] for m in experiment.get("metricInfos", [])]
    shown = [name for name, _ in columns] + metrics

    def cell(group: dict, key: str) -> str:
        if key in group["hparams"]:
            value = group["hparams"][key]
            return f"{value:.4g}" if isinstance(value, float) else str(value)
        found = [m["value"] for m in group.get("metricValues", []) if m["name"]["tag"] == key]
        return f"{found[0]:.4g}" if found else ""

    def ratio(group: dict) -> float:
        value = cell(group, "test/mse_over_pca")
        return float(value) if value else float("inf")

    ranked = sorted(groups, key=ratio)
    table = markdown_table(
        ["run", *shown], [(f"`{g['name']}`", [cell(g, k) for k in shown]) for g in ranked]
    )
    varied = [name for name, differs in columns if differs]
    ok = sum(r.get("status") == "ok" for r in results)
    return "\n".join(
        [
            f"`{ctx.command('train', overrides(ctx))}` ({len(results)} jobs, {ok} ok), then "
            "`aelab-compare` on the sweep folder and `tensorboard --logdir` on it.",
            "",
            "The runs TensorBoard lists: " + ", ".join(f"`{r}`" for r in sorted(runs)) + ".",
            "",
            f"HParams columns, the varied ones first ({', '.join(varied)}), then the metrics "
            f"({', '.join(metrics)}); the sessions by `test/mse_over_pca`, best first:",
            "",
            table,
            "",
            *[part for picture in pictures for part in (picture, "")],
        ]
    )
