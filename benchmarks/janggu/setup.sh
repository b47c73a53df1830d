#!/usr/bin/env bash
# Create a separate virtualenv with Janggu 0.10.2's data layer, for benchmarks/janggu/bench_janggu.py.
#
# Janggu 0.10.2 pins old keras/tensorflow versions that do not install on Python 3.11, so it is
# installed with --no-deps and only the dependencies of its data layer (janggu.data) are added.
# biopython==1.77 has no wheel for Python 3.11 and builds from source (needs gcc and the Python
# headers). pybedtools calls the `bedtools` executable, installed from Debian if missing.
#
# Usage: bash benchmarks/janggu/setup.sh [VENV_DIR]      (default /tmp/janggu_venv)
set -euo pipefail

VENV="${1:-${JANGGU_VENV:-/tmp/janggu_venv}}"
PYTHON="${PYTHON:-python3}"

if ! command -v bedtools >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq bedtools
    else
        echo "warning: bedtools not found and apt-get unavailable; pybedtools calls will fail" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$VENV/bin/python" -m pip install -q --no-deps janggu==0.10.2
"$VENV/bin/python" -m pip install -q \
    numpy pandas pysam pyBigWig h5py scipy progress pybedtools \
    matplotlib seaborn scikit-learn pydot
# 1.77 is the last biopython whose Bio.Alphabet janggu imports; builds from source on 3.11.
"$VENV/bin/python" -m pip install -q --no-build-isolation biopython==1.77

"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("janggu", "numpy", "pandas", "pysam", "pyBigWig", "biopython", "pybedtools"):
    print(f"{name:12s} {md.version(name)}")
PY
echo "janggu venv ready: $VENV"
