#!/usr/bin/env bash
# MLP, conv and VAE autoencoders across eta = 0.01 ... 0.5 on terrain, against closed-form PCA.
# Runs the experiment module (src/aelab/experiments/compression_curve.py): its sweeps in
# outputs/experiments/compression_curve/ (resumed when interrupted), then its tables and figure into
# docs/experiments.md. Options go to aelab-experiments, e.g. --quick (smoke scale, docs untouched).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m aelab.experiments --only compression_curve "$@"
