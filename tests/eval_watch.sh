#!/usr/bin/env bash
# gradc eval --watch beside a training run that prunes (--keep-last 1) and beside files that vanish
# between the watcher's listing and its load: the watcher never dies, evaluates in step order, and
# evaluates each step's weights once (last.safetensors and ckpt-N of one step are the same weights).
set -u
GRADC=$1
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/ck"
# The timeout counts from the watcher's start until the first checkpoint: under ASan, beside other
# tests, the trainer took over 4 s to write it and the watcher stopped before any had come.
"$GRADC" eval --watch "$tmp/ck" --watch-timeout 10 --limit 200 > "$tmp/watch.log" 2> "$tmp/watch.err" &
watcher=$!
"$GRADC" train dnn --first-n 1200 --train-n 1000 --val-n 200 --test-n 200 --steps 1500 --periods 5 \
  --checkpoint-dir "$tmp/ck" --checkpoint-every 25 --keep-last 1 > "$tmp/train.log" 2>&1 &
trainer=$!
sleep 0.5
# Churn: copies of a checkpoint appear and vanish at once, as a pruning run's files do.
for i in $(seq 400); do
  [[ -f "$tmp/ck/last.safetensors" ]] && cp "$tmp/ck/last.safetensors" "$tmp/ck/churn-$i.safetensors" 2>/dev/null
  rm -f "$tmp/ck/churn-$((i - 1)).safetensors"
done
rm -f "$tmp/ck"/churn-*.safetensors
wait "$trainer" || { echo "FAIL: training failed"; tail -3 "$tmp/train.log"; exit 1; }
wait "$watcher"
rc=$?
fail=0
if ((rc != 0)); then
  echo "FAIL: the watcher ended with status $rc:"
  tail -3 "$tmp/watch.err"
  fail=1
fi
if grep -q "filesystem error\|terminate" "$tmp/watch.err"; then
  echo "FAIL: $(head -1 "$tmp/watch.err")"
  fail=1
fi
steps=$(grep -o 'step [0-9]*' "$tmp/watch.log" | awk '{print $2}')
n=$(wc -l <<<"$steps")
((n >= 3)) || { echo "FAIL: only $n evaluations"; cat "$tmp/watch.log"; fail=1; }
sort -n -c <<<"$steps" 2>/dev/null || { echo "FAIL: steps out of order:" $steps; fail=1; }
[[ -z "$(uniq -d <<<"$steps")" ]] || { echo "FAIL: a step evaluated twice:" $(uniq -d <<<"$steps"); fail=1; }
grep -q "step 1500" "$tmp/watch.log" || { echo "FAIL: the final step was not evaluated"; fail=1; }
((fail)) && exit 1
echo "ok: watcher alive beside --keep-last and vanishing files; $n evaluations, steps in order, each once"
