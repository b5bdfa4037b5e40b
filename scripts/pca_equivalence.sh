#!/usr/bin/env bash
# Linear AE, seed and PCA variants, across eta on terrain and MNIST (t10k), against closed-form PCA.
# Runs the experiment module (src/aelab/experiments/pca_equivalence.py): its sweeps in
# outputs/experiments/pca_equivalence/ (resumed when interrupted), then its tables and figure into
# docs/experiments.md. Options go to aelab-experiments, e.g. --quick (smoke scale, docs untouched).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m aelab.experiments --only pca_equivalence "$@"
