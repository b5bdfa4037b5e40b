#!/usr/bin/env bash
# The two terrain anomaly protocols, trained and evaluated one after the other:
# - sampling bias: train on mountain windows centred on the summit, test summit vs wall windows;
# - novelty: train without urban patches, test on every class, urban = anomaly.
# Prints the AUROC of the autoencoder beside the PCA detector at the same latent size.
#
#   scripts/anomaly_terrain.sh [extra aelab-train overrides...]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.venv/bin}
[[ -x $BIN/aelab-train ]] || BIN=$(dirname "$(command -v aelab-train)")
OUT=${OUT:-outputs/anomaly_terrain/$(date +%Y-%m-%d_%H-%M-%S)}

for protocol in summit:terrain_sampling_bias novelty:terrain_novelty; do
    experiment=${protocol%%:*}
    echo "== $experiment"
    "$BIN/aelab-train" "experiment=anomaly_terrain_$experiment" callbacks.progress_bar=null \
        "hydra.run.dir=$OUT/$experiment" "$@" | grep -E "^done"
    "$BIN/aelab-eval" "ckpt_path=$OUT/$experiment" task=[anomaly] "anomaly=${protocol#*:}" \
        "hydra.run.dir=$OUT/$experiment/eval" | grep -E "anomaly/"
done
