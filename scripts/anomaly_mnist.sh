#!/usr/bin/env bash
# MNIST one-class anomaly detection: for each digit d, train an autoencoder on d alone
# (experiment=anomaly_mnist, t10k split), evaluate it with aelab-eval task=[anomaly], and print
# the per-digit and mean AUROC beside the PCA detector at the same latent size.
#
#   scripts/anomaly_mnist.sh [extra aelab-train overrides...]
#   MNIST_DIR=/data/mnist DIGITS="0 1" OUT=outputs/my_sweep scripts/anomaly_mnist.sh model.lr=0.001
#
# One job at a time, on THREADS torch threads (default 1: these nets are small, and more threads
# only contend on a shared machine).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.venv/bin}
[[ -x $BIN/aelab-train ]] || BIN=$(dirname "$(command -v aelab-train)")
MNIST_DIR=${MNIST_DIR:-data/mnist}
DIGITS=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
OUT=${OUT:-outputs/anomaly_mnist/$(date +%Y-%m-%d_%H-%M-%S)}
THREADS=${THREADS:-1}

for d in $DIGITS; do
    echo "== digit $d: train on $d, anomalies = the other digits"
    "$BIN/aelab-train" experiment=anomaly_mnist "data.digits=[$d]" "data.data_dir=$MNIST_DIR" \
        callbacks.progress_bar=null "torch_threads=$THREADS" "hydra.run.dir=$OUT/digit$d" "$@" |
        grep -E "^done"
    "$BIN/aelab-eval" "ckpt_path=$OUT/digit$d" task=[anomaly] "data.data_dir=$MNIST_DIR" \
        "torch_threads=$THREADS" "hydra.run.dir=$OUT/digit$d/eval" | grep -E "anomaly/(pca_)?auroc"
done

"$BIN/python" - "$OUT" <<'PY'
import json, sys
from pathlib import Path

rows = []
for path in sorted(Path(sys.argv[1]).glob("digit*/eval/eval.json")):
    found = json.loads(path.read_text())["tasks"]["anomaly"]
    rows.append((path.parts[-3][5:], found["model"]["auroc"], found["pca"]["auroc"]))
m = json.loads(path.read_text())["latent_dim"]
print(f"\nMNIST one-class AUROC (test part of t10k; anomalies = other digits), m = {m}")
print(f"{'digit':>5}  {'AE':>6}  {'PCA':>6}")
for digit, ae, pca in rows:
    print(f"{digit:>5}  {ae:6.4f}  {pca:6.4f}")
mean = lambda values: sum(values) / len(values)
print(f"{'mean':>5}  {mean([r[1] for r in rows]):6.4f}  {mean([r[2] for r in rows]):6.4f}")
PY
