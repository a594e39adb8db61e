#!/usr/bin/env bash
# Ahead-of-time export: a plain C program (tests/aot/predict_mnist.c) linking only the exported
# model.o, libc, libm (and libomp for 2 threads) reproduces `gradc eval --logits` bit for bit on
# the same target — dense and convolutional models, weights in a file and embedded, 1 and 2
# threads, batches that do not divide the count — for the AVX2 target on any host and the AVX-512
# one where the host has it; AArch64 exports under qemu-aarch64, predict and ten training steps.
# A weights file of another export is refused (3), none loaded is 2.
set -euo pipefail
GRADC=$1
SRC=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "aot export: $*"; exit 1; }
IMAGES=${GRADC_DATA:-data}/mnist/t10k-images-idx3-ubyte
CC=${CC:-$(command -v cc || echo clang-19)}
OMP="-L$(llvm-config-19 --libdir) -lomp -Wl,-rpath,$(llvm-config-19 --libdir)"
slice=(--first-n 1200 --train-n 1000 --val-n 200 --test-n 300)
"$GRADC" train dnn "${slice[@]}" --steps 60 --checkpoint-dir "$tmp/dnn" --quiet >/dev/null
"$GRADC" train convnet "${slice[@]}" --steps 4 --checkpoint-dir "$tmp/convnet" --quiet >/dev/null
targets=(x86-64-v3)
grep -qw avx512f /proc/cpuinfo && targets+=(x86-64-v4)

# export_run MODEL TARGET N NAME [export flags...] -- [program args after the logits file]
run_case() {
  local model=$1 target=$2 n=$3 name=$4
  shift 4
  local flags=() args=()
  while [[ $# -gt 0 && $1 != -- ]]; do flags+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  args=("$@")
  local dir=$tmp/$name
  "$GRADC" export --target "$target" --checkpoint "$tmp/$model/final.safetensors" -o "$dir" "${flags[@]}" >/dev/null
  # shellcheck disable=SC2086
  "$CC" -O2 -Wall -Werror -I"$dir" "$SRC/aot/predict_mnist.c" "$dir/model.o" -lm $OMP -o "$dir/predict"
  "$dir/predict" "$IMAGES" "$n" "$dir/logits.f32" "${args[@]}"
  cmp -s -n $((n * 40)) "$dir/logits.f32" "$tmp/$model-$target.f32" \
    || fail "$name: the exported $model's logits differ from gradc eval's ($target, ${flags[*]})"
  echo "ok: $name ($model, $target, n=$n, ${flags[*]})"
}

for t in "${targets[@]}"; do
  for m in dnn convnet; do
    "$GRADC" eval --target "$t" --checkpoint "$tmp/$m/final.safetensors" --limit 1000 --logits "$tmp/$m-$t.f32" >/dev/null
    run_case $m "$t" 1000 "$m-$t-file" --batch 64 -- "$tmp/$m-$t-file/model_weights.bin"
    run_case $m "$t" 999 "$m-$t-embedded" --embed-weights --batch 100
    run_case $m "$t" 1000 "$m-$t-threads" --embed-weights --threads 2 --batch 250 -- "" 2
  done
done

# AArch64 (NEON): exported on this x86 host, cross-linked by aarch64-linux-gnu-gcc, run under
# qemu-aarch64; logits within 1e-5 of the x86 JIT's (they agree bit for bit today).
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
  for m in dnn convnet; do
    for cpu in aarch64 neoverse-n1; do
      dir=$tmp/$m-$cpu
      "$GRADC" export --target $cpu --checkpoint "$tmp/$m/final.safetensors" -o "$dir" --batch 64 >/dev/null
      aarch64-linux-gnu-gcc -O2 -Wall -Werror -I"$dir" "$SRC/aot/predict_mnist.c" "$dir/model.o" -lm -o "$dir/predict"
      file "$dir/model.o" | grep -q "ARM aarch64" || fail "$cpu: model.o is not AArch64 code"
      qemu-aarch64 -L /usr/aarch64-linux-gnu "$dir/predict" "$IMAGES" 200 "$dir/logits.f32" "$dir/model_weights.bin"
      python3 - "$dir/logits.f32" "$tmp/$m-x86-64-v3.f32" <<'PY' || fail "$m on $cpu: logits differ from the x86 run"
import struct, sys
a, b = (open(p, "rb").read() for p in sys.argv[1:])
n = len(a) // 4
a, b = struct.unpack(f"<{n}f", a), struct.unpack(f"<{n}f", b[:4 * n])
worst = max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, b))
sys.exit(0 if worst <= 1e-5 else f"max relative difference {worst}")
PY
      echo "ok: $m for $cpu under qemu-aarch64"
    done
  done
  # Ten exported training steps (the checkpoint's optimizer and state: dnn Adagrad + clipping,
  # convnet Adam with dropout) on x86-64 and under qemu-aarch64: weights and optimizer state within
  # 1e-5 (the x86 object equals the JIT bit for bit: Aot.TenExportedStepsEqualTenJitSteps).
  LABELS=${GRADC_DATA:-data}/mnist/train-labels-idx1-ubyte
  TRAIN=${GRADC_DATA:-data}/mnist/train-images-idx3-ubyte
  for m in dnn convnet; do
    for t in x86-64-v3 aarch64; do
      dir=$tmp/$m-step-$t
      "$GRADC" export --target $t --checkpoint "$tmp/$m/last.safetensors" -o "$dir" --train-step --batch 16 \
        --embed-weights >/dev/null
      cc=$CC run=()
      [[ $t == aarch64 ]] && cc=aarch64-linux-gnu-gcc run=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
      "$cc" -O2 -Wall -Werror -I"$dir" "$SRC/aot/train_mnist.c" "$dir/model.o" -lm -o "$dir/train"
      "${run[@]}" "$dir/train" "$TRAIN" "$LABELS" 10 0.01 "$dir/weights.bin" >/dev/null
    done
    python3 - "$tmp/$m-step-x86-64-v3/weights.bin" "$tmp/$m-step-aarch64/weights.bin" <<'PY' \
      || fail "$m: ten training steps on aarch64 differ from x86-64"
import struct, sys
a, b = (open(p, "rb").read() for p in sys.argv[1:])
assert a[:24] == b[:24] and len(a) == len(b), "different weights files"
n = (len(a) - 24) // 4
a, b = struct.unpack(f"<{n}f", a[24:]), struct.unpack(f"<{n}f", b[24:])
worst = max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, b))
sys.exit(0 if worst <= 1e-5 else f"max relative difference {worst}")
PY
    echo "ok: $m: ten exported training steps on aarch64 (qemu) match x86-64"
  done
else
  echo "aot export: aarch64-linux-gnu-gcc or qemu-aarch64 missing (tools/setup.sh installs them)"
  exit 1
fi

# Exported code needs no gradc or LLVM library at run time.
if ldd "$tmp/dnn-x86-64-v3-file/predict" | grep -Eq "LLVM|gradc"; then fail "the C program links LLVM or gradc"; fi
# Weights: another export's file is refused (3), a missing file is 2, and predict without weights is 2.
set +e
out=$("$tmp/dnn-x86-64-v3-file/predict" "$IMAGES" 10 "$tmp/x.f32" "$tmp/convnet-x86-64-v3-file/model_weights.bin" 2>&1)
[[ $? -ne 0 && $out == *"load_weights returned 3"* ]] || fail "a convnet weights file was loaded into the dnn: $out"
out=$("$tmp/dnn-x86-64-v3-file/predict" "$IMAGES" 10 "$tmp/x.f32" "$tmp/missing.bin" 2>&1)
[[ $out == *"load_weights returned 2"* ]] || fail "a missing weights file: $out"
out=$("$tmp/dnn-x86-64-v3-file/predict" "$IMAGES" 10 "$tmp/x.f32" 2>&1)
[[ $out == *"predict returned 2"* ]] || fail "predict without weights: $out"
echo "ok: weights files checked"
set -e

# The README's PNG classifier (examples/deploy/classify_png.c) on five test images written as PNGs
# (by Python's zlib: no image library needed): each class is the argmax of gradc eval's logits.
dir=$tmp/dnn-x86-64-v3-embedded
"$CC" -O2 -Wall -Werror -I"$dir" "$SRC/../examples/deploy/classify_png.c" "$dir/model.o" -lpng -lm -o "$tmp/classify"
python3 - "$IMAGES" "$tmp" "$tmp/dnn-x86-64-v3.f32" <<'PY'
import struct, sys, zlib
images, out, logits = sys.argv[1:]
raw, lg = open(images, "rb").read(), open(logits, "rb").read()
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
with open(f"{out}/expected.txt", "w") as exp:
    for k in range(5):
        px = raw[16 + 784 * k: 16 + 784 * (k + 1)]
        rows = b"".join(b"\0" + px[28 * r: 28 * (r + 1)] for r in range(28))
        png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) \
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
        open(f"{out}/digit-{k}.png", "wb").write(png)
        v = struct.unpack("<10f", lg[40 * k: 40 * (k + 1)])
        exp.write(f"{out}/digit-{k}.png: {v.index(max(v))}\n")
PY
got=$(for k in 0 1 2 3 4; do "$tmp/classify" "$tmp/digit-$k.png"; done)
[[ "$got" == "$(cat "$tmp/expected.txt")" ]] || fail "classify_png: '$got', expected '$(cat "$tmp/expected.txt")'"
echo "ok: classify_png agrees with gradc eval on 5 PNGs"
