#!/usr/bin/env bash
# The same 1 km patches at r = 5, 10, 20, 40 with a 5-d latent: smooth against rough ground.
# Runs the experiment module (src/aelab/experiments/terrain_resolution.py): its sweeps in
# outputs/experiments/terrain_resolution/ (resumed when interrupted), then its tables and figure into
# docs/experiments.md. Options go to aelab-experiments, e.g. --quick (smoke scale, docs untouched).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m aelab.experiments --only terrain_resolution "$@"
