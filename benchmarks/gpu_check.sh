#!/usr/bin/env bash
# The GPU check, for a lent CUDA machine (one call, under 8 minutes): the CUDA tests, then
# the CUDA rows of the benchmarks that have them, written to $OUT (or benchmarks/results).
#   bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
PY="${PY:-.venv/bin/python}"
nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv || true
timeout 240 "$PY" -m pytest -q -m cuda -p no:cacheprovider tests
timeout 150 "$PY" benchmarks/stack_scaling.py --device cuda --rounds 2 --out "$OUT"
if [ -f benchmarks/search_digits.py ]; then
  timeout 90 "$PY" benchmarks/search_digits.py --device cuda --rounds 1 --out "$OUT" || true
fi
