#!/usr/bin/env bash
# Create a separate virtualenv with GenVarLoader (PyPI `genvarloader`, installed as is, with its
# own dependencies) for benchmarks/gvl/bench_gvl.py. genozarr's venv (/tmp/gzvenv) is never
# touched: GenVarLoader pins its own numpy/polars/numba versions.
#
# Usage: bash benchmarks/gvl/setup.sh [VENV_DIR]      (default /tmp/gvl_venv)
#        GVL_VERSION=0.x.y bash benchmarks/gvl/setup.sh   (pin a release; default: latest)
set -euo pipefail

VENV="${1:-${GVL_VENV:-/tmp/gvl_venv}}"
PYTHON="${PYTHON:-python3}"
SPEC="genvarloader${GVL_VERSION:+==$GVL_VERSION}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$VENV/bin/python" -m pip install -q "$SPEC" psutil

"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("genvarloader", "numpy", "numba", "polars", "pybigtools", "seqpro", "awkward"):
    try:
        print(f"{name:12s} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name:12s} (not installed)")
PY
echo "genvarloader venv ready: $VENV"
