#!/usr/bin/env bash
# eta = 2 (and 0.5) with no / denoising / sparse_kl / topk regularization: who reconstructs noise?
source "$(dirname "$0")/_common.sh"
sweep . "$@"
"${BIN}aelab-compare" "$SWEEP_DIR" --metrics test/noise_mse_ratio,test/noise_mse,test/mse
