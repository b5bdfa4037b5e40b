"""``trainer.deterministic=true`` on the CPU: results that repeat on any x86 CPU with AVX2.

The CPU libraries under torch pick their kernels by the instruction set of the machine: MKL's
matrix products (linear layers, im2col convolutions, PCA), oneDNN's convolutions and ATen's own
vectorised loops differ between AVX2, AVX-512 and AMX code in the order they add numbers, so the
same seed trains to slightly different weights on another CPU model, and convolutions drift most
(`scripts/cpu_drift.py` measures which library moves which model). Pinning all three to their
AVX2 code makes every CPU with AVX2 compute the same sums, at a cost in speed on newer CPUs; with
torch's deterministic algorithms, results then repeat across machines (same thread count).

The libraries read these settings once, at their first computation: `pin_cpu_kernels` must run
before the process computes anything (aelab-train calls it first thing); settings given in the
environment beforehand are kept.
"""

import logging
import os

log = logging.getLogger(__name__)

PINNED = {
    "MKL_CBWR": "AVX2",  # MKL: conditional numerical reproducibility on the AVX2 code path
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN: no AVX-512 or AMX kernels
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's vectorised loops
}


def pin_cpu_kernels() -> dict[str, str]:
    """Pin MKL, oneDNN and ATen to their AVX2 kernels (unless the environment set them)."""
    import torch

    chosen = {}
    for name, value in PINNED.items():
        chosen[name] = os.environ.setdefault(name, value)
    torch.use_deterministic_algorithms(True)
    log.info("CPU kernels pinned for repeatable results: %s", chosen)
    return chosen
