#!/usr/bin/env bash
# The installed package works out of tree: `cmake --install` into a temporary prefix, then
# examples/from_scratch and examples/custom_mlp configure with find_package(gradc), builds, links gradc::gradc with its
# transitive dependencies, and runs (it must learn its task). A compiler gradc does not support is
# refused at configure time with a message naming the supported ones.
set -euo pipefail
BUILD=$1 SRC=$(cd "$2" && pwd) CXX=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILD" --prefix "$tmp/prefix" > "$tmp/install.log"
test -f "$tmp/prefix/lib/cmake/gradc/gradcConfig.cmake"
test -f "$tmp/prefix/include/gradc/autodiff/dsl.h"
test -f "$tmp/prefix/include/gradc/tools/report.h"
cmake -S "$SRC/examples/from_scratch" -B "$tmp/ex" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=Release > "$tmp/configure.log"
cmake --build "$tmp/ex" > "$tmp/build.log"
"$tmp/ex/from_scratch" 200 | tee "$tmp/run.log"
grep -q "test accuracy" "$tmp/run.log"
echo "ok: installed package -> examples/from_scratch configured, built and ran"
# examples/custom_mlp: a user's own model through the Trainer (needs MNIST: one epoch here).
cmake -S "$SRC/examples/custom_mlp" -B "$tmp/cm" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=Release > "$tmp/cm-configure.log"
cmake --build "$tmp/cm" > "$tmp/cm-build.log"
MNIST="${GRADC_DATA:-$SRC/data}/mnist"
if [[ -e "$MNIST/train-images-idx3-ubyte" || -e "$MNIST/train-images-idx3-ubyte.gz" ]]; then
  "$tmp/cm/custom_mlp" "$MNIST" 1 "$tmp/cm-report" | tee "$tmp/cm-run.log"
  grep -q "^test accuracy 0.9" "$tmp/cm-run.log"
  for f in index.html metrics.csv loss.png weights.png labels.png; do test -s "$tmp/cm-report/$f"; done
  echo "ok: examples/custom_mlp built against the package, trained through the Trainer"
else
  echo "skip: examples/custom_mlp built; not run (no MNIST in $MNIST; tools/setup.sh fetches it)"
fi
# add_subdirectory(gradc) in an outer project configures (paths are gradc's own, not the outer
# project's; the CLI and tests stay off).
mkdir -p "$tmp/outer"
cat > "$tmp/outer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(outer LANGUAGES CXX)
add_subdirectory("$SRC" gradc)
add_executable(from_scratch "$SRC/examples/from_scratch/main.cpp")
target_link_libraries(from_scratch PRIVATE gradc::gradc)
CMAKE
cmake -S "$tmp/outer" -B "$tmp/outer-build" -G Ninja -DCMAKE_CXX_COMPILER="$CXX" > "$tmp/outer.log" 2>&1 ||
  { echo "FAIL: add_subdirectory"; tail -20 "$tmp/outer.log"; exit 1; }
grep -q "gradc_tests" "$tmp/outer-build/build.ninja" && { echo "FAIL: tests built under add_subdirectory"; exit 1; }
grep -q "from_scratch" "$tmp/outer-build/build.ninja"
echo "ok: add_subdirectory(gradc) configures, gradc::gradc links, no CLI/tests"
for other in g++ clang++-14; do
  command -v "$other" > /dev/null || continue
  if cmake -S "$SRC/examples/from_scratch" -B "$tmp/ex-$other" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
       -DCMAKE_CXX_COMPILER="$other" > "$tmp/$other.log" 2>&1; then
    echo "FAIL: $other was accepted"
    exit 1
  fi
  grep -q "gradc needs clang 16 or newer" "$tmp/$other.log" || { echo "FAIL: no message for $other"; exit 1; }
  echo "ok: $other refused: $(grep -o 'gradc needs clang 16 or newer[^;]*' "$tmp/$other.log" | head -1)"
done
echo "install package ok"
