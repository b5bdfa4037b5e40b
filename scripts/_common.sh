# Shared by the experiment scripts: run from the repo root, find the console scripts, pick a
# fresh sweep dir. Environment: LAUNCHER (basic | joblib, default joblib: one job per core),
# SWEEP_DIR (default outputs/experiments/<name>/<time>), AELAB_MNIST_DIR (MNIST experiments).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/aelab-train ]]; then BIN=.venv/bin/; else BIN=; fi
EXPERIMENT=$(basename "$0" .sh)
LAUNCHER=${LAUNCHER:-joblib}
SWEEP_DIR=${SWEEP_DIR:-outputs/experiments/$EXPERIMENT/$(date +%Y-%m-%d_%H-%M-%S)}

mnist_dir() {  # the folder with t10k-images-idx3-ubyte.gz, absolute
  local dir=${AELAB_MNIST_DIR:-../shared/data/mnist}
  if [[ ! -e "$dir/t10k-images-idx3-ubyte.gz" && ! -e "$dir/t10k-images-idx3-ubyte" ]]; then
    echo "$EXPERIMENT: no MNIST t10k files in $dir; set AELAB_MNIST_DIR=<folder with t10k-images-idx3-ubyte.gz>" >&2
    exit 2
  fi
  realpath "$dir"
}

sweep() {  # sweep <subdir or .> <overrides...>: one multirun of this experiment
  local dir=$SWEEP_DIR/$1
  shift
  "${BIN}aelab-train" -m "experiment=$EXPERIMENT" "hydra/launcher=$LAUNCHER" \
    "hydra.sweep.dir=$dir" "$@"
}
