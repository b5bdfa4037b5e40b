#!/usr/bin/env bash
# The same 1 km patches at r = 5, 10, 20, 40 with a 5-d latent: smooth against rough ground.
source "$(dirname "$0")/_common.sh"
sweep . "$@"
"${BIN}aelab-compare" "$SWEEP_DIR" --x data.resolution --metrics test/mse,test/mse_over_pca
