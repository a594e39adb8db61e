#!/usr/bin/env bash
# Exported object vs JIT'd Program on one checkpoint, side by side in one run: object sizes, and
# µs per example at batch 1 and 100 (examples/deploy/time_predict.c on the object, built with cc;
# gradc bench --predict on the JIT, 1 thread, the same inference graph).
#   tools/export_latency.sh CHECKPOINT [GRADC]
set -euo pipefail
ckpt=$1
GRADC=${2:-build/gradc}
SRC=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=$("$GRADC" eval --checkpoint "$ckpt" --json --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"])')
echo "host: $(lscpu | sed -n 's/^Model name: *//p'); model $model from $ckpt"
for b in 1 100; do
  "$GRADC" export --checkpoint "$ckpt" -o "$tmp/b$b" --batch "$b" --embed-weights >/dev/null
  cc -O2 -I"$tmp/b$b" "$SRC/examples/deploy/time_predict.c" "$tmp/b$b/model.o" -lm -o "$tmp/time$b"
  echo "batch $b: model.o $(stat -c %s "$tmp/b$b/model.o") bytes (weights embedded; text+data+bss: $(size "$tmp/b$b/model.o" | awk 'NR==2{print $1"+"$2"+"$3}'))"
  for r in 1 2 3; do
    echo "  exported: $("$tmp/time$b" "$b")"
    echo "  JIT:      $("$GRADC" bench "$model" --predict --batch "$b" | sed -n 's/^ *1 thread : //p')"
  done
done
