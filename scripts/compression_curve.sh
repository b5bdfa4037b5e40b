#!/usr/bin/env bash
# MLP, conv and VAE autoencoders across eta = 0.01 ... 0.5 on terrain, against closed-form PCA.
source "$(dirname "$0")/_common.sh"
sweep . "$@"
"${BIN}aelab-compare" "$SWEEP_DIR"
