#!/usr/bin/env bash
# MNIST one-class anomaly detection: one autoencoder per digit (one aelab-train multirun), each
# evaluated with aelab-eval task=[anomaly] (one aelab-eval multirun), AUROC per digit beside PCA.
# Runs the experiment module (src/aelab/experiments/anomaly_mnist.py): its sweeps in
# outputs/experiments/anomaly_mnist/ (resumed when interrupted), then its table and figure into
# docs/experiments.md. MNIST t10k files from $AELAB_MNIST_DIR (default ../shared/data/mnist).
# Options go to aelab-experiments, e.g. --quick (two digits, smoke scale, docs untouched).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" -m aelab.experiments --only anomaly_mnist "$@"
