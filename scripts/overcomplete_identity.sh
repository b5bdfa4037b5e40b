#!/usr/bin/env bash
# eta = 2 (and 0.5) with no / denoising / sparse_kl / topk regularization: who reconstructs noise?
# Runs the experiment module (src/aelab/experiments/overcomplete_identity.py): its sweeps in
# outputs/experiments/overcomplete_identity/ (resumed when interrupted), then its tables and figure into
# docs/experiments.md. Options go to aelab-experiments, e.g. --quick (smoke scale, docs untouched).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m aelab.experiments --only overcomplete_identity "$@"
