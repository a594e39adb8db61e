#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-19, ASan + UBSan) and runs each for a bounded time.
# Usage: tools/fuzz.sh [SECONDS_PER_TARGET=600] [TARGET...]   targets: idx csv safetensors graph resume
# Seeds come from tests/fuzz/corpus/<target>; the growing corpus lives in build-fuzz/corpus/<target>.
# Exits non-zero if any target finds a crash (the reproducer is left in build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(idx csv safetensors graph resume)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-19 -DGRADC_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "${JOBS:-2}" --target $(printf 'fuzz_%s ' "${TARGETS[@]}")
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  cp -n tests/fuzz/corpus/"$t"/* "build-fuzz/corpus/$t/" 2>/dev/null || true
  log="build-fuzz/fuzz_$t.log"
  echo "fuzz: $t for ${SECS}s"
  if (cd build-fuzz && ./fuzz_"$t" -max_total_time="$SECS" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
        "corpus/$t" >"fuzz_$t.log" 2>&1); then
    result="no crash"
  else
    result="CRASH (see $log and build-fuzz/crash-*)"
    status=1
  fi
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "fuzz: $t: ${execs:-?} executions in ${SECS}s, corpus $(ls "build-fuzz/corpus/$t" | wc -l) files: $result"
done
exit $status
