"""TensorBoard's HParams table: what each run really was, and the sweep's columns in order.

Each training run writes one session (`write_session`) into its own event folder: the effective
η, m and n, every group choice (never a compression preset's name, which an overridden ratio
makes false), the seed, the learning rate, and the sweep's varied keys with this run's values.
Its metrics are the run's own scalars (``test/mse``, ``test/pca_mse``, ``test/mse_over_pca``,
``test/mse@k`` of ordered runs), so the table and the charts show the same numbers.

At the end of a sweep (`ExperimentSummary`, a Hydra callback) one experiment description goes
in the sweep folder: the columns, the varied ones first and shown, the others after them, and the
metrics present. Without it (a sweep still running) TensorBoard infers the columns itself.
"""

import json
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

GROUPS = ("model", "data", "regularizer", "ordered")
METRICS = ("test/mse", "test/pca_mse", "test/mse_over_pca", "val/mse")
PREFIX_METRICS = ("test/mse@", "test/mse_over_pca@")
FOLDER = "hparams"  # the sweep's experiment description: <sweep dir>/hparams/events...


def run_hparams(
    cfg: DictConfig, choices: dict[str, Any], n: int, m: int, varied: dict[str, str] | None
) -> dict[str, Any]:
    """The session's columns: the varied keys first (as overridden), then the groups and sizes."""
    params: dict[str, Any] = {}
    for key, value in (varied or {}).items():
        if key not in ("compression", "compression.ratio", "compression.latent_dim"):
            params[key] = value  # compression: eta and m below are what ran
    params |= {group: choices.get(group) for group in GROUPS if choices.get(group)}
    params |= {"eta": m / n, "m": m, "n": n, "seed": int(cfg.seed)}
    if cfg.model.get("lr") is not None:
        params["lr"] = float(cfg.model.lr)
    return {key: plain(value) for key, value in params.items()}


def plain(value: Any) -> bool | int | float | str:
    """A value TensorBoard's HParams accept: numbers and flags as such, anything else as text."""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _summary(tag: str, **data: Any) -> Any:
    """A Summary carrying HParams plugin data (the protos alone: no TensorFlow needed)."""
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    content = plugin_data_pb2.HParamsPluginData(version=metadata.PLUGIN_DATA_VERSION, **data)
    plugin = SummaryMetadata.PluginData(
        plugin_name=metadata.PLUGIN_NAME, content=content.SerializeToString()
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])


def write_session(writer: Any, hparams: dict[str, Any], status: str = "success") -> None:
    """One HParams session (start and end) through a `SummaryWriter`, without an experiment."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for name, value in hparams.items():
        if isinstance(value, bool):
            start.hparams[name].bool_value = value
        elif isinstance(value, int | float):
            start.hparams[name].number_value = value
        else:
            start.hparams[name].string_value = str(value)
    ended = {"success": api_pb2.STATUS_SUCCESS, "failure": api_pb2.STATUS_FAILURE}[status]
    end = plugin_data_pb2.SessionEndInfo(status=ended, end_time_secs=time.time())
    file_writer = writer._get_file_writer()
    file_writer.add_summary(_summary(metadata.SESSION_START_INFO_TAG, session_start_info=start))
    file_writer.add_summary(_summary(metadata.SESSION_END_INFO_TAG, session_end_info=end))
    writer.flush()


def experiment(sessions: list[dict[str, Any]], metrics: list[str]) -> Any:
    """The experiment description of `sessions` (each run's hparams): varied columns first."""
    from tensorboard.plugins.hparams import api_pb2, metadata

    names = list(dict.fromkeys(name for hparams in sessions for name in hparams))
    infos = []
    for name in names:
        values = [hparams[name] for hparams in sessions if name in hparams]
        differs = len({json.dumps(v) for v in values}) > 1
        info = api_pb2.HParamInfo(name=name, differs=differs)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            info.type = api_pb2.DATA_TYPE_FLOAT64
        elif all(isinstance(v, bool) for v in values):
            info.type = api_pb2.DATA_TYPE_BOOL
        else:
            info.type = api_pb2.DATA_TYPE_STRING
            info.domain_discrete.extend(sorted({str(v) for v in values}))
        infos.append(info)
    infos.sort(key=lambda info: not info.differs)  # stable: the varied ones first, in order
    metric_infos = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in metrics]
    described = api_pb2.Experiment(hparam_infos=infos, metric_infos=metric_infos)
    return _summary(metadata.EXPERIMENT_TAG, experiment=described)


def sweep_metrics(results: list[dict[str, Any]]) -> list[str]:
    """The HParams metrics of a sweep: the headline ones, then each prefix's, by prefix size."""
    found = {key for result in results for key in (result.get("metrics") or {})}
    prefixed = [key for key in found if key.startswith(PREFIX_METRICS)]
    prefixed.sort(key=lambda key: (key.split("@")[0], int(key.split("@")[1])))
    return [key for key in METRICS if key in found] + prefixed


def write_experiment(sweep_dir: Path) -> Path | None:
    """The experiment description of the runs under `sweep_dir`; None when none has hparams."""
    from torch.utils.tensorboard import SummaryWriter

    results = []
    for path in sorted(Path(sweep_dir).glob("*/result.json")):
        try:
            results.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # a job still writing, or lost: the table is inferred for it
    sessions = [r["hparams"] for r in results if isinstance(r.get("hparams"), dict)]
    if not sessions:
        return None
    folder = Path(sweep_dir) / FOLDER
    for old in folder.glob("events.out.tfevents.*"):  # one description per sweep
        old.unlink()
    writer = SummaryWriter(str(folder))
    writer._get_file_writer().add_summary(experiment(sessions, sweep_metrics(results)))
    writer.close()
    return folder


class ExperimentSummary(Callback):
    """Hydra callback: at the end of a multirun, describe its HParams columns once."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            write_experiment(Path(config.hydra.sweep.dir))
        except Exception as error:  # noqa: BLE001 - a dashboard detail never fails a sweep
            import logging

            logging.getLogger(__name__).warning("no HParams experiment description: %s", error)
