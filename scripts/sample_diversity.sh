#!/usr/bin/env bash
# Test MSE against the number of training patches: one terrain class against all five.
source "$(dirname "$0")/_common.sh"
sweep . "$@"
"${BIN}aelab-compare" "$SWEEP_DIR" --x data.train_size --metrics test/mse,test/mse_over_pca
