#!/usr/bin/env bash
# A second user of the machine (nobody, uid 65534) prepares a world-writable output directory
# before gradc runs there as root: a gnuplot script that runs their command, and links named like
# every file gradc writes, pointing at a file of root's. gradc must never run their script, never
# write through their links, and leave its outputs as root's own regular files. The directories are
# not sticky, so the kernel's protected_symlinks cannot be what saves us. Needs root to act as
# another user; skipped (77) otherwise.
set -euo pipefail
GRADC=$1
[[ $(id -u) -eq 0 ]] || { echo "second_user: not root, cannot act as another user"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
echo precious >"$tmp/victim.txt"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
"$GRADC" train linear --first-n 300 --train-n 200 --val-n 100 --test-n 100 --steps 2 --checkpoint-dir "$tmp/ck" \
  >/dev/null
mkdir -m 0777 "$tmp/shared"
plant() {  # plant DIR: what the other user leaves there
  nobody sh -c '
    cd "$1"
    for f in .plot.gp .plot.err .digit.csv .probs.csv .predict.png predict.png digit.csv probs.csv metrics.csv \
        loss.png accuracy.png lr.csv lr.png confusion.csv confusion.png labels.csv index.html digit0.csv \
        weights.png samples.png pixels.png labels.png; do
      ln -s "$2/victim.txt" "$f"
    done
    rm .plot.gp
    printf "system \"touch %s/pwned\"\n" "$2" >.plot.gp
    chmod 444 .plot.gp' sh "$1" "$tmp"
}
plant "$tmp/shared"
nobody mkdir -m 0777 "$tmp/shared/rep"
plant "$tmp/shared/rep"
"$GRADC" predict --checkpoint "$tmp/ck/final.safetensors" --image 0 --plot "$tmp/shared/predict.png" >/dev/null
GRADC_DATA=${GRADC_DATA:-data} "$GRADC" train linear --first-n 300 --train-n 200 --val-n 100 --test-n 100 --steps 4 \
  --report "$tmp/shared/rep" >/dev/null
fail=0
[[ $(cat "$tmp/victim.txt") == precious ]] || { echo "FAIL: the victim file was written through a link"; fail=1; }
[[ ! -e "$tmp/pwned" ]] || { echo "FAIL: the other user's gnuplot script ran"; fail=1; }
for f in shared/predict.png shared/rep/{metrics.csv,loss.png,confusion.csv,index.html,weights.png,samples.png}; do
  if [[ -L "$tmp/$f" || ! -f "$tmp/$f" || $(stat -c %u "$tmp/$f") -ne 0 ]]; then
    echo "FAIL: $f is not root's own regular file"
    fail=1
  fi
done
# A lock file that is the other user's link: refused, not followed.
nobody ln -s "$tmp/victim.txt" "$tmp/shared/.gradc.lock"
if GRADC_DATA=${GRADC_DATA:-data} "$GRADC" train linear --steps 1 --checkpoint-dir "$tmp/shared" >"$tmp/lock.log" 2>&1 ||
  ! grep -q "cannot create its lock file" "$tmp/lock.log"; then
  echo "FAIL: a planted .gradc.lock link was not refused:"
  cat "$tmp/lock.log"
  fail=1
fi
[[ $(cat "$tmp/victim.txt") == precious ]] || { echo "FAIL: the lock followed the link"; fail=1; }
((fail == 0)) && echo "second_user: no script run, no link followed, every output root's own"
exit $fail
