#!/usr/bin/env bash
# Test MSE against the number of training patches: one terrain class against all five.
# Runs the experiment module (src/aelab/experiments/sample_diversity.py): its sweeps in
# outputs/experiments/sample_diversity/ (resumed when interrupted), then its tables and figure into
# docs/experiments.md. Options go to aelab-experiments, e.g. --quick (smoke scale, docs untouched).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m aelab.experiments --only sample_diversity "$@"
