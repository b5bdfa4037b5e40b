#!/usr/bin/env bash
# The GPU checks in one short call (a few minutes): framework overhead with data resident on the
# device, then a small terrain sweep's throughput. DEVICE=cpu runs the same on the CPU.
#   scripts/bench_gpu.sh            # on a machine with a CUDA GPU
#   DEVICE=cpu scripts/bench_gpu.sh # the same path on the CPU
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DEVICE=${DEVICE:-cuda}
ACCELERATOR=$([ "$DEVICE" = cpu ] && echo cpu || echo gpu)
OUT=${OUT:-outputs/bench_gpu}
mkdir -p "$OUT"
echo "== framework overhead on $DEVICE"
"$BIN/python" scripts/bench_overhead.py --device "$DEVICE" --rounds 2 --epochs 6
echo "== throughput: 4 terrain jobs, accelerator=$ACCELERATOR"
start=$(date +%s.%N)
"$BIN/aelab-train" -m accelerator="$ACCELERATOR" model=mlp,conv compression.ratio=0.05,0.1 \
    data.train_size=8192 trainer.max_epochs=3 hydra.sweep.dir="$OUT/sweep" > "$OUT/sweep.log" 2>&1
end=$(date +%s.%N)
echo "4 jobs in $("$BIN/python" -c "print(f'{$end - $start:.1f}')") s"
"$BIN/aelab-compare" "$OUT/sweep" | tail -n 12
