#!/usr/bin/env bash
# Linear AE, seed and PCA variants, across eta on terrain and MNIST (t10k), against closed-form PCA.
source "$(dirname "$0")/_common.sh"
MNIST=$(mnist_dir)
sweep terrain "$@"
sweep mnist data=mnist data.split=t10k data.download=false "data.data_dir=$MNIST" \
  data.batch_size=256 "$@"
"${BIN}aelab-compare" "$SWEEP_DIR" \
  --metrics test/mse,test/mse_over_pca,test/mse_over_pca_uncentred,test/max_principal_angle_deg
