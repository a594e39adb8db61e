#!/usr/bin/env bash
# kill -9 + --resume == an unbroken run, for every feature whose state lives between steps:
# --keep-best (best weights and best loss), --early-stop (the previous epoch's accuracy), EMA
# weights, the running train metrics between evaluation points, and --report's metrics.csv. Each
# case trains once unbroken and once killed at a random moment after its first checkpoint, then
# resumed with the same command; every checkpoint must be byte-identical and metrics.csv equal
# (but for the steps/s column).
set -u
GRADC=$1
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
passed=0
run_case() {  # run_case NAME flags...
  local name=$1
  shift
  local args=(train dnn --engine reference --first-n 1500 --train-n 1200 --val-n 300 --test-n 200 --epochs 6
    --checkpoint-every 17 "$@")
  "$GRADC" "${args[@]}" --checkpoint-dir "$tmp/$name.a" --report "$tmp/$name.ra" > "$tmp/$name.a.log" 2>&1
  "$GRADC" "${args[@]}" --checkpoint-dir "$tmp/$name.b" --report "$tmp/$name.rb" > /dev/null 2>&1 &
  local pid=$!
  # Kill after two evaluation points (so keep-best and early stop hold state), at a random moment.
  for _ in $(seq 1500); do (($(cat "$tmp/$name.rb/metrics.csv" 2>/dev/null | wc -l) >= 3)) && break; sleep 0.02; done
  sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local at
  at=$(python3 -c 'import json,struct,sys; r=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",r[:8])[0]; print(json.loads(r[8:8+n])["__metadata__"]["step"])' "$tmp/$name.b/last.safetensors")
  "$GRADC" "${args[@]}" --checkpoint-dir "$tmp/$name.b" --report "$tmp/$name.rb" --resume "$tmp/$name.b" \
    > "$tmp/$name.b.log" 2>&1 || { echo "FAIL: $name: the resumed run failed"; tail -3 "$tmp/$name.b.log"; fail=$((fail + 1)); return; }
  local bad=""
  for f in last final best; do
    [[ -e "$tmp/$name.a/$f.safetensors" ]] || continue
    cmp -s "$tmp/$name.a/$f.safetensors" "$tmp/$name.b/$f.safetensors" || bad+=" $f.safetensors"
  done
  cut -d, -f1-7 "$tmp/$name.ra/metrics.csv" > "$tmp/ma"
  cut -d, -f1-7 "$tmp/$name.rb/metrics.csv" > "$tmp/mb"
  cmp -s "$tmp/ma" "$tmp/mb" || bad+=" metrics.csv"
  [[ "$(grep '^test:' "$tmp/$name.a.log")" == "$(grep '^test:' "$tmp/$name.b.log")" ]] || bad+=" test-metrics"
  if [[ -n "$bad" ]]; then
    echo "FAIL: $name (killed after the step-$at checkpoint): differs in$bad"
    fail=$((fail + 1))
  else
    echo "ok: $name: killed after the step-$at checkpoint, resumed; checkpoints, metrics.csv, test metrics identical" \
      "$(grep -o 'early stop after epoch [0-9]*' "$tmp/$name.a.log")"
    passed=$((passed + 1))
  fi
}
run_case keep-best --keep-best
run_case early-stop --early-stop --lr 3
run_case ema --ema 0.9 --keep-best
# Killed after early stopping wrote its last checkpoint but before the run ended: resuming from that
# checkpoint must stop there too, not train on to the last epoch.
stopped_case() {
  local args=(train dnn --engine reference --first-n 1500 --train-n 1200 --val-n 300 --test-n 200 --epochs 6
    --checkpoint-every 17 --early-stop --lr 3)
  mkdir -p "$tmp/stop.c"
  cp "$tmp/early-stop.a/last.safetensors" "$tmp/stop.c/"
  "$GRADC" "${args[@]}" --checkpoint-dir "$tmp/stop.c" --resume "$tmp/stop.c" > "$tmp/stop.c.log" 2>&1 ||
    { echo "FAIL: resumed-after-early-stop: the resumed run failed"; tail -3 "$tmp/stop.c.log"; fail=$((fail + 1)); return; }
  if cmp -s "$tmp/early-stop.a/final.safetensors" "$tmp/stop.c/final.safetensors" &&
    [[ "$(grep '^test:' "$tmp/early-stop.a.log")" == "$(grep '^test:' "$tmp/stop.c.log")" ]]; then
    echo "ok: resumed-after-early-stop: the run stops at its early-stop checkpoint, final weights and test metrics identical"
    passed=$((passed + 1))
  else
    echo "FAIL: resumed-after-early-stop: the resumed run did not end where the unbroken one did"
    fail=$((fail + 1))
  fi
}
grep -q 'early stop after epoch' "$tmp/early-stop.a.log" && stopped_case
echo "$passed passed, $fail failed"
exit $((fail > 0))
