#!/usr/bin/env bash
# The persistent code cache: a second compile of the same step loads its machine code; the loaded
# code trains exactly as freshly compiled code; a corrupt entry is a warning and a recompile;
# --no-cache neither reads nor writes; a cache directory others can write is not used.
set -euo pipefail
GRADC=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME=$tmp/cache
fail() { echo "code cache: $*"; exit 1; }
first=$("$GRADC" compile dnn --batch 30)
grep -q "(IR emission" <<<"$first" || fail "first compile did not compile: $first"
n=$(find "$tmp/cache/gradc" -name '*.code' | wc -l)
[[ $n -ge 1 ]] || fail "no cache entry written"
[[ $(stat -c %a "$tmp/cache/gradc") == 700 ]] || fail "cache directory is not private"
second=$("$GRADC" compile dnn --batch 30)
grep -q "from the code cache" <<<"$second" || fail "second compile did not use the cache: $second"
# The same training with cached and with fresh code: the same figures to the last digit.
train() { "$GRADC" train dnn --first-n 1200 --train-n 1000 --val-n 200 --test-n 300 --steps 60 --periods 2 "$@" \
  | grep -E "^(validation|test):"; }
a=$(train)
b=$(train)
c=$(train --no-cache)
[[ "$a" == "$b" && "$a" == "$c" ]] || fail "cached and fresh code train differently: '$a' / '$b' / '$c'"
# Corrupt every entry (flip a byte in the middle): a warning naming the file, then a recompile.
for f in "$tmp"/cache/gradc/*.code; do
  size=$(stat -c %s "$f")
  printf '\xff' | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc status=none
done
out=$("$GRADC" compile dnn --batch 30 2>&1)
grep -q "warning: code cache entry .*\.code is unusable (checksum mismatch); recompiling" <<<"$out" \
  || fail "corrupt entry not reported: $out"
grep -q "(IR emission" <<<"$out" || fail "corrupt entry not recompiled"
again=$("$GRADC" compile dnn --batch 30 2>&1)
grep -q "from the code cache" <<<"$again" || fail "the recompiled entry was not rewritten: $again"
# --no-cache: nothing read, nothing written.
rm -rf "$tmp/cache/gradc"
nc=$("$GRADC" compile dnn --batch 30 --no-cache)
grep -q "(IR emission" <<<"$nc" || fail "--no-cache did not compile"
[[ ! -e "$tmp/cache/gradc" ]] || fail "--no-cache wrote the cache"
# A directory others may write to could hold planted code: not used, said once.
mkdir -p "$tmp/cache/gradc" && chmod 777 "$tmp/cache/gradc"
open=$("$GRADC" compile dnn --batch 30 2>&1)
grep -q "warning: code cache .* is not private to this user; not used" <<<"$open" || fail "world-writable cache used: $open"
[[ -z $(find "$tmp/cache/gradc" -name '*.code') ]] || fail "wrote into a world-writable cache"
echo "code cache ok"
