"""The evaluation tasks of aelab-eval: one module of this package each, found by its name.

A task is any module of this package whose name does not start with "_"; it defines:

    NAME: str
        The task's name in ``task=[...]`` and in eval.json; ``conf/eval.yaml`` holds its
        settings in a block of that name.
    ORDER: int
        Where ``task=all`` runs it (ascending).
    NEEDS: tuple[str, ...]
        What it needs of the run, in words ("anomalies", "sampler", ...); logged when skipped.
    SETTINGS: tuple[str, ...] (optional)
        The blocks of the eval config it reads besides its own (``cfg.<NAME>``), e.g. the
        embedding task's ``probe``. A documented figure's config hash covers only the blocks of
        the tasks it runs (`settings`), so a new task's block leaves other figures current.
    ON_REQUEST: bool (optional)
        True for a task ``task=all`` leaves out (the log says how to ask for it), such as
        ``export``, which writes files as large as a split; a list runs it like any other.

    def available(run: LoadedRun, cfg: DictConfig) -> str | None
        None when the task can run on this run, else the reason (one line, with the fix).
        Settings that are wrong whatever the run raise `ConfigError` here.
    def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict
        Its part of eval.json, with the file names of its figures under ``figures``. ``cfg`` is
        the whole eval config: the task reads its own block (``cfg.<NAME>``) and ``cfg.seed``.
    def headline(result: dict) -> dict[str, float]
        The numbers of its result worth a glance, flat, named ``<group>/<metric>``: result.json's
        ``metrics``, TensorBoard's ``eval/`` scalars, a sweep's objective.

``select_tasks`` turns ``task=`` into the tasks to run, all checked before any runs: ``all`` is
every available task in ``ORDER`` but those run ``ON_REQUEST`` (the others are skipped with
their reason in the log); a list is run as given, and an unknown or unavailable task in it is
refused with one line.
Helpers shared by the tasks live in modules named ``_*`` (``Outputs``: PNG and TensorBoard).
"""

import importlib
import logging
import pkgutil
from types import ModuleType
from typing import Any

from omegaconf import DictConfig

from aelab.errors import ConfigError
from aelab.eval._outputs import Outputs

log = logging.getLogger("aelab.eval")

SIGNATURE = ("NAME", "ORDER", "NEEDS", "available", "run", "headline")


def _discover() -> dict[str, ModuleType]:
    """Every task module of this package by NAME, in ORDER; a module lacking a part is refused."""
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        missing = [part for part in SIGNATURE if not hasattr(module, part)]
        if missing:
            raise TypeError(
                f"{module.__name__} is not an evaluation task: it lacks {', '.join(missing)} "
                f"(see aelab.eval); name it _{info.name} if it is a helper"
            )
        modules.append(module)
    return {module.NAME: module for module in sorted(modules, key=lambda m: m.ORDER)}


TASKS: dict[str, ModuleType] = _discover()


def ordered() -> list[str]:
    """The registered task names in ``ORDER``."""
    return [name for name, _ in sorted(TASKS.items(), key=lambda item: item[1].ORDER)]


def select_tasks(requested: Any, run, cfg: DictConfig) -> list[str]:
    """The tasks to run: ``all`` (every one available to this run, but those run on request)
    or the listed ones.

    A listed task that is unknown or that this run cannot do is refused here, before any work.
    """
    if requested in (None, "all", ["all"]):
        tasks = []
        for name in ordered():
            if getattr(TASKS[name], "ON_REQUEST", False):
                log.info("skipped %s (on request only): name it, e.g. task=[%s]", name, name)
                continue
            reason = TASKS[name].available(run, cfg)
            if reason is None:
                tasks.append(name)
            else:
                needs = ", ".join(TASKS[name].NEEDS) or "nothing declared"
                log.info("skipped %s (needs: %s): %s", name, needs, reason)
        return tasks
    tasks = [requested] if isinstance(requested, str) else list(requested)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ConfigError(
            f"unknown task {unknown[0] if unknown else '(none)'!r}; task= takes all or a list of "
            f"{', '.join(ordered())}, e.g. task=[anomaly,embedding]"
        )
    tasks = list(dict.fromkeys(tasks))
    for name in tasks:
        reason = TASKS[name].available(run, cfg)
        if reason is not None:
            raise ConfigError(f"task={name}: {reason}")
    return tasks


def settings(name: str) -> tuple[str, ...]:
    """The eval config blocks task `name` reads: its own and those it declares."""
    return (name, *getattr(TASKS[name], "SETTINGS", ()))


def headline_metrics(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """A flat dict of the numbers worth a glance (and a sweep objective), task by task."""
    metrics: dict[str, float] = {}
    for name, result in results.items():
        metrics.update(TASKS[name].headline(result))
    return metrics


__all__ = ["TASKS", "Outputs", "headline_metrics", "ordered", "select_tasks", "settings"]
