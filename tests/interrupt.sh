#!/usr/bin/env bash
# Ctrl-C and SIGTERM during training: the run stops after the current step, writes its checkpoint
# and its report (marked as interrupted), says so on stderr and exits 128 + the signal; while it
# runs, the report is rewritten at the evaluation points (--report-every 0: each one), marked
# "in progress". A resume from the interrupted run's checkpoint continues to the end; a run killed
# with SIGKILL gets its report from `gradc report DIR`.
set -euo pipefail
GRADC=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "interrupt: $*"; exit 1; }
# The reference engine keeps each of the 30 periods slow enough to act in the middle of the run.
data=(--first-n 1200 --train-n 1000 --val-n 200 --test-n 100 --steps 3000 --periods 30)
args=(train dnn --engine reference "${data[@]}")
for sig in INT TERM; do
  dir=$tmp/$sig
  "$GRADC" "${args[@]}" --checkpoint-dir "$dir/ck" --report "$dir/rep" --report-every 0 >"$dir.out" 2>"$dir.err" &
  pid=$!
  for _ in $(seq 1200); do grep -q "^Period 2/30" "$dir.out" 2>/dev/null && break; sleep 0.05; done
  grep -q "in progress: step" "$dir/rep/index.html" || fail "$sig: no in-progress report while training"
  grep -q 'http-equiv="refresh"' "$dir/rep/index.html" || fail "$sig: the in-progress page does not reload"
  kill -"$sig" "$pid"
  set +e
  wait "$pid"
  rc=$?
  set -e
  want=$((128 + $(kill -l "$sig")))
  [[ $rc -eq $want ]] || fail "$sig: exit $rc, expected $want; $(cat "$dir.err")"
  grep -q "gradc: SIG$sig: stopped after step [0-9]*; checkpoint $dir/ck/last.safetensors, report $dir/rep/index.html" \
    "$dir.err" || fail "$sig: stderr: $(cat "$dir.err")"
  [[ -s $dir/ck/last.safetensors ]] || fail "$sig: no checkpoint"
  grep -q "interrupted by SIG$sig after step" "$dir/rep/index.html" || fail "$sig: the report does not say it stopped"
  grep -q "test accuracy" "$dir/rep/index.html" || fail "$sig: the final report has no test figures"
  if grep -q "in progress" "$dir/rep/index.html"; then fail "$sig: the final report still says in progress"; fi
  echo "ok: SIG$sig -> exit $rc, checkpoint and report written"
done
# kill -9 leaves no report page, only metrics.csv, steps.csv and the checkpoints: gradc report rebuilds it.
dir=$tmp/KILL
"$GRADC" "${args[@]}" --checkpoint-dir "$dir" --report "$dir" --report-every 1000 >"$dir.out" 2>&1 &
pid=$!
for _ in $(seq 1200); do grep -q "^Period 3/30" "$dir.out" 2>/dev/null && break; sleep 0.05; done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[[ ! -e $dir/index.html ]] || fail "kill -9: a report page was written before the end"
out=$("$GRADC" report "$dir")
[[ $out == *"report: $dir/index.html"* ]] || fail "gradc report: $out"
grep -q "rebuilt by gradc report" "$dir/index.html" || fail "gradc report: the page does not say it was rebuilt"
grep -q "test accuracy" "$dir/index.html" && [[ -s $dir/loss.png && -s $dir/confusion.png ]] \
  || fail "gradc report: no test figures or charts"
echo "ok: gradc report rebuilt a killed run's report"

# The interrupted run resumes from its checkpoint and finishes (on the JIT: another engine is a
# recipe change, allowed explicitly).
out=$("$GRADC" train dnn "${data[@]}" --resume "$tmp/INT/ck" --allow-recipe-change --quiet)
[[ $out == "dnn: test accuracy 0."* ]] || fail "resume after the interrupt: $out"
echo "ok: resumed to the end"
