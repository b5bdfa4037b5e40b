#!/usr/bin/env bash
# The two terrain anomaly protocols: sampling bias (trained on summit-centred mountain windows,
# wall windows are the anomalies) and novelty (trained without urban patches, urban is the
# anomaly); AUROC of the autoencoder beside the PCA detector at the same latent size.
# Runs the experiment module (src/aelab/experiments/anomaly_terrain.py): its sweeps in
# outputs/experiments/anomaly_terrain/ (resumed when interrupted), then its table and figure into
# docs/experiments.md. Options go to aelab-experiments, e.g. --quick (smoke scale, docs untouched).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m aelab.experiments --only anomaly_terrain "$@"
