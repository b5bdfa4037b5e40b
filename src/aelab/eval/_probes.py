"""The linear probes of the embedding task: fitting and held-out codes, R^2, accuracy, figures.

Targets are the labels (a ridge classifier) and, when the data declare intrinsic parameters
(``datamodule.intrinsics``: split key -> column names), every column of them (ridge regression),
pooled and within each class, for the model's code and for closed-form PCA's at the same m.
The maths: `aelab.metrics.probes`; figures and tables: `aelab.metrics.probe_tables`.
"""

from typing import Any

import torch
from torch import Tensor

from aelab.errors import ConfigError
from aelab.metrics.pca import fit_pca
from aelab.metrics.probe_tables import per_class_figure, per_class_markdown, r2_figure
from aelab.metrics.probes import (
    majority_rate,
    order_summary,
    per_class_r2,
    ridge_accuracy,
    ridge_r2,
)

FIT_ON = ("auto", "train", "test_half")


def check_settings(settings) -> None:
    """Raise `ConfigError` for an unknown ``probe.fit_on``."""
    if settings.fit_on not in FIT_ON:
        raise ConfigError(
            f"unknown probe.fit_on {settings.fit_on!r}; choose {', '.join(FIT_ON[:-1])} or "
            f"{FIT_ON[-1]}"
        )


def probe_sets(run, settings, test: dict[str, Tensor], z_test: Tensor) -> tuple[dict, dict, str]:
    """Fitting and held-out sets (codes, inputs, targets), and where the fit comes from.

    ``train``: the training split's codes (held out: the test split). ``test_half``: even test
    samples fit, odd ones are held out, for models whose training split lacks classes of the
    test split (one-class and novelty runs). ``auto`` picks ``train`` when it can.
    """
    check_settings(settings)
    train = run.datamodule.split("train")
    fit_on = settings.fit_on
    if fit_on == "auto":
        unseen = ~torch.isin(test["label"], torch.unique(train["label"]))
        fit_on = "test_half" if unseen.any() else "train"
    keys = [k for k in ("x", "label", *run.datamodule.intrinsics) if k in test]
    limit = settings.max_fit
    if fit_on == "train":
        fit = {k: train[k][:limit] for k in keys}
        fit["z"] = run.embed(fit["x"])
        held_out = {k: test[k] for k in keys} | {"z": z_test}
    else:
        both = {k: test[k] for k in keys} | {"z": z_test}
        fit = {k: v[0::2][:limit] for k, v in both.items()}
        held_out = {k: v[1::2] for k, v in both.items()}
    return fit, held_out, fit_on


def evaluate(run, settings, test: dict[str, Tensor], z_test: Tensor, out) -> dict[str, Any]:
    """Label accuracy and R^2 of the intrinsic parameters, for z and for PCA(m) codes."""
    fit, held_out, fit_on = probe_sets(run, settings, test, z_test)
    dm, m = run.datamodule, run.latent_dim
    pca = fit_pca(dm.split("train")["x"], m)
    latents = {
        "model": (fit["z"], held_out["z"]),
        f"pca_m{m}": (pca.encode(fit["x"]), pca.encode(held_out["x"])),
    }
    result: dict[str, Any] = {
        "probe_fit_on": fit_on,
        "probe_num_fit": len(fit["z"]),
        "probe_num_held_out": len(held_out["z"]),
        "figures": [],
    }
    if len(torch.unique(fit["label"])) > 1:
        accuracy = {
            name: ridge_accuracy(a, fit["label"], b, held_out["label"], settings.ridge_alpha)
            for name, (a, b) in latents.items()
        }
        result["label_accuracy"] = accuracy | {"majority": majority_rate(held_out["label"])}
    intrinsics = {k: names for k, names in dm.intrinsics.items() if k in test}
    if not intrinsics:
        return result
    names = [name for columns in intrinsics.values() for name in columns]

    def targets(split: dict[str, Tensor]) -> Tensor:
        return torch.cat([split[k].reshape(len(split[k]), -1) for k in intrinsics], dim=1)

    table = {}
    for name, (a, b) in latents.items():
        r2 = ridge_r2(a, targets(fit), b, targets(held_out), alpha=settings.ridge_alpha)
        table[name] = dict(zip(names, r2.tolist(), strict=True))
    result["r2"] = table
    figure = r2_figure(table, f"held-out R$^2$ of linear probes from the codes (m={m})")
    result["figures"].append(out.figure("probe_r2", figure))

    per_class = {
        name: per_class_r2(
            (a, targets(fit), fit["label"]),
            (b, targets(held_out), held_out["label"]),
            names,
            dm.class_names,
            settings.ridge_alpha,
        )
        for name, (a, b) in latents.items()
    }
    result["r2_per_class"] = per_class
    result["r2_by_order"] = {
        name: {"pooled": order_summary(table[name])}
        | {c: order_summary(r2) for c, r2 in per_class[name].items()}
        for name in latents
    }
    result["figures"].append(out.figure("probe_r2_per_class", per_class_figure(table, per_class)))
    (out.dir / "probe_r2_per_class.md").write_text(per_class_markdown(table, per_class))
    result["tables"] = ["probe_r2_per_class.md"]
    return result
