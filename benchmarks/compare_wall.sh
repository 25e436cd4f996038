#!/bin/bash
# Wall time of `sknn-mnist compare --dataset mnist --quick`, two checkouts interleaved:
#   bash benchmarks/compare_wall.sh BEFORE_DIR [AFTER_DIR] [ROUNDS]
# COMPARE_ARGS replaces `--quick` (e.g. COMPARE_ARGS="" for the full study, or
# COMPARE_ARGS="--models mlp,cnn,svm,rf" for the study with the CNN).
# BEFORE_DIR/AFTER_DIR: checkouts of the package (e.g. `git worktree add /tmp/before REV`);
# AFTER_DIR defaults to this checkout. Needs the MNIST IDX files ($SKNN_MNIST_IDX_DIR or
# ../shared/data/mnist) and this checkout's .venv. Prints one line per run with the load.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$1; AFTER=${2:-$HERE}; ROUNDS=${3:-2}
IDX=${SKNN_MNIST_IDX_DIR:-$HERE/../shared/data/mnist}
ARGS=${COMPARE_ARGS---quick}
OUT=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
  for side in before after; do
    if [ "$side" = before ]; then P=$BEFORE; else P=$AFTER; fi
    s=$(date +%s.%N)
    (cd "$OUT" && PYTHONPATH=$P timeout 3600 "$HERE/.venv/bin/python" -m sknn_mnist compare \
       --dataset mnist --idx-dir "$IDX" $ARGS --out "$OUT/$side-$r" > "$OUT/$side-$r.log" 2>&1)
    rc=$?
    e=$(date +%s.%N)
    echo "round $r $side $(echo "$e - $s" | bc) s rc=$rc load $(cut -d' ' -f1 /proc/loadavg)"
    # The run's result table (test accuracy and times per model).
    grep -E '^\s*(model|mlp|cnn|svm|rf|mlp-ensemble)\b' "$OUT/$side-$r.log" | tail -n 6
  done
done
rm -rf "$OUT"
