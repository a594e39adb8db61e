#!/usr/bin/env bash
# gradc on a CPU without AVX-512 — and on one without AVX2 — emulated with QEMU's user mode
# (qemu-user, TCG: Haswell = AVX2+FMA, no AVX-512; Nehalem = SSE4.2), so that every CI host, whatever
# its ISA, checks what an AVX2-only user sees: host detection picks the AVX2 target, the FMA-peak
# probe and a whole `gradc bench` run without SIGILL, an AVX-512 target compiles but refuses to run,
# and a pre-AVX2 CPU gets one clear line and exit 2.
set -u
GRADC=$1
QEMU=$(command -v qemu-x86_64) || { echo "FAIL: qemu-x86_64 not found (tools/setup.sh installs qemu-user)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
passed=0
check() {  # check WANT_RC "needle" cmd...
  local want=$1 needle=$2
  shift 2
  local out rc
  "$@" >"$tmp/out" 2>&1
  rc=$?
  out=$(grep -v '^qemu-x86_64: warning' "$tmp/out")
  if [[ $rc -ne $want || "$out" != *"$needle"* ]]; then
    echo "FAIL: $* -> exit $rc (want $want), output: $out"
    fail=$((fail + 1))
  else
    echo "ok: $* -> exit $rc: $(grep -F -- "$needle" <<<"$out" | head -1)"
    passed=$((passed + 1))
  fi
}
check 0 "target: host (cpu haswell, tuned for haswell): AVX2+FMA, 8 f32 lanes" "$QEMU" -cpu Haswell "$GRADC" compile linear
check 0 "against the measured 8-lane FMA peak" "$QEMU" -cpu Haswell "$GRADC" bench linear --batch 30 --reps 3 --no-reference
check 2 "target 'x86-64-v4' (AVX-512) cannot run on this CPU" "$QEMU" -cpu Haswell "$GRADC" bench linear --target x86-64-v4
check 0 "wrote $tmp/v4.s" "$QEMU" -cpu Haswell "$GRADC" compile linear --target x86-64-v4 --dump-asm "$tmp/v4.s"
if grep -q "vfmadd231ps.*%zmm" "$tmp/v4.s"; then
  echo "ok: the x86-64-v4 assembly compiled on the AVX2 CPU uses zmm FMAs"
  passed=$((passed + 1))
else
  echo "FAIL: no zmm FMA in $tmp/v4.s"
  fail=$((fail + 1))
fi
check 2 "this CPU lacks AVX2+FMA" "$QEMU" -cpu Nehalem "$GRADC" compile linear
echo "$passed passed, $fail failed"
exit $((fail > 0))
