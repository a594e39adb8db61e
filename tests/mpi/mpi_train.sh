#!/usr/bin/env bash
# Data-parallel training on 2 ranks (mpirun --oversubscribe -np 2) against one process:
#  1. 20 steps of dnn (with and without its clipping) and of mlp512 (dropout, RMSprop) equal one process at the same global batch
#     (tests/mpi/compare_checkpoints.py: |a-b|/|a| <= 1e-5 per tensor), and every rank ends with
#     bit-identical weights (the run compares their checksums; rank 0 reports it);
#  2. resume 2 ranks -> 1 rank and 1 -> 2 equal the unbroken run;
#  3. a global batch the ranks cannot split is one named error, exit 2;
#  4. kill -9 of one rank ends the job non-zero within 30 s and the last checkpoint still loads.
# Usage: mpi_train.sh GRADC MPIRUN
set -euo pipefail
GRADC=$1 MPIRUN=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI unloads its plugins at MPI_Finalize; kept loaded, LeakSanitizer can name the plugin
# allocations Open MPI keeps for the process's life (tests/lsan.supp suppresses them, never gradc's).
export OMPI_MCA_mca_base_component_disable_dlclose=1
# Under the sanitizer pass: whole stacks for LeakSanitizer (Open MPI's libraries have no frame
# pointers, so the fast unwinder stops inside them and no suppression could match).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
mpi() { "$MPIRUN" --oversubscribe -np 2 "$@"; }
# compare LABEL A B: a statement of this shell (never inside $(...), where its exit would end only a
# subshell), so a tensor outside the tolerance ends the test.
compare() {
  if ! python3 "$here/compare_checkpoints.py" "$2" "$3" > "$tmp/cmp.txt"; then
    echo "FAIL: $1:"
    grep -v "^ok" "$tmp/cmp.txt" | head -20
    exit 1
  fi
  echo "$1: $(tail -1 "$tmp/cmp.txt")"
}

# dnn's own recipe clips to global norm 5, and clipping hides a wrong gradient scale (2x the
# gradient clips to the same update): dnn-noclip compares the unclipped gradients' updates.
for run in dnn dnn-noclip mlp512; do
  model=${run%-noclip}
  flags=(--steps 20 --periods 2 --threads 1 --first-n 6000 --test-n 500)
  [[ $model == mlp512 ]] && flags+=(--val-fraction 0.1)
  [[ $run == dnn-noclip ]] && flags+=(--clip 0)
  "$GRADC" train $model "${flags[@]}" --checkpoint-dir "$tmp/$run-1" > "$tmp/$run-1.log"
  mpi "$GRADC" train $model "${flags[@]}" --checkpoint-dir "$tmp/$run-2" > "$tmp/$run-2.log"
  grep -q "^data-parallel: 2 ranks" "$tmp/$run-2.log"
  grep -q "^weights bit-identical on all 2 ranks (checksum [0-9a-f]*)" "$tmp/$run-2.log" ||
    { echo "$run: no checksum agreement line"; cat "$tmp/$run-2.log"; exit 1; }
  [[ $(grep -c "^Period 1/2" "$tmp/$run-2.log") -eq 1 ]] || { echo "$run: progress printed by more than rank 0"; exit 1; }
  compare "$run 2 ranks vs 1" "$tmp/$run-1/last.safetensors" "$tmp/$run-2/last.safetensors"
done

# Resume across rank counts: 10 steps on 2 ranks, then to 20 on 1 (and the other way round).
flags=(--steps 20 --periods 2 --threads 1 --first-n 6000 --test-n 500)
mpi "$GRADC" train dnn --steps 10 --periods 1 --threads 1 --first-n 6000 --test-n 500 --allow-recipe-change \
  --checkpoint-dir "$tmp/r21" > /dev/null
"$GRADC" train dnn "${flags[@]}" --resume "$tmp/r21" --allow-recipe-change > /dev/null
compare "resume 2 -> 1" "$tmp/dnn-1/last.safetensors" "$tmp/r21/last.safetensors"
"$GRADC" train dnn --steps 10 --periods 1 --threads 1 --first-n 6000 --test-n 500 --allow-recipe-change \
  --checkpoint-dir "$tmp/r12" > /dev/null
mpi "$GRADC" train dnn "${flags[@]}" --resume "$tmp/r12" --allow-recipe-change > /dev/null
compare "resume 1 -> 2" "$tmp/dnn-1/last.safetensors" "$tmp/r12/last.safetensors"

# A global batch the ranks cannot split: one line, exit 2.
set +e
mpi "$GRADC" train dnn --steps 2 --batch 31 > /dev/null 2> "$tmp/odd.err"
status=$?
set -e
[[ $status -eq 2 ]] || { echo "odd batch: exit $status"; cat "$tmp/odd.err"; exit 1; }
[[ $(grep -c "is not divisible by the 2 ranks" "$tmp/odd.err") -eq 1 ]] ||
  { echo "odd batch: expected the error once"; cat "$tmp/odd.err"; exit 1; }

# kill -9 one rank mid-run: the job ends non-zero within 30 s, the last checkpoint loads.
mpi "$GRADC" train mlp512 --epochs 50 --threads 1 --checkpoint-dir "$tmp/kill" --checkpoint-every 5 \
  > "$tmp/kill.log" 2>&1 &
job=$!
for _ in $(seq 1 600); do [[ -s "$tmp/kill/last.safetensors" ]] && break; sleep 0.1; done
[[ -s "$tmp/kill/last.safetensors" ]] || { echo "no checkpoint before the kill"; cat "$tmp/kill.log"; exit 1; }
# A rank's command line starts with gradc's path (mpirun's with mpirun's).
victim=$(pgrep -f "^$GRADC train mlp512 --epochs 50" | tail -1)
[[ -n "$victim" ]] || { echo "no rank process found"; exit 1; }
start=$(date +%s)
kill -9 "$victim"
set +e
timeout 60 tail --pid="$job" -f /dev/null
wait "$job"
status=$?
set -e
took=$(($(date +%s) - start))
[[ $status -ne 0 ]] || { echo "the job exited 0 after a rank was killed"; exit 1; }
((took <= 30)) || { echo "the job took ${took}s to end after the kill"; exit 1; }
grep -q "stopped by mpirun (another rank ended)\|exited on signal 9" "$tmp/kill.log" ||
  { echo "no line says why the job ended"; cat "$tmp/kill.log"; exit 1; }
"$GRADC" eval --checkpoint "$tmp/kill/last.safetensors" --limit 200 > /dev/null
echo "kill -9 of rank pid $victim: job exit $status after ${took}s; last.safetensors loads"

# `gradc bench scaling` starts its own ranks under mpirun: each must see the MPI world (a check that
# ran before MPI was initialised once refused every worker).
"$GRADC" bench scaling --ranks 2 --reps 3 > "$tmp/scaling.log" 2>&1 ||
  { echo "bench scaling failed"; cat "$tmp/scaling.log"; exit 1; }
[[ $(grep -cE "^(mlp512|dnn) " "$tmp/scaling.log") -eq 2 ]] ||
  { echo "bench scaling printed no row per case"; cat "$tmp/scaling.log"; exit 1; }
echo "bench scaling: both cases measured on 2 ranks"
echo "mpi_train: all checks passed"
