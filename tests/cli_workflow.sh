#!/usr/bin/env bash
# The CLI end to end on a small real slice: train with checkpoints, the separate evaluator
# (eval --watch) picks up every checkpoint, predict prints probabilities, summary counts params.
set -euo pipefail
GRADC=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GRADC" train dnn --first-n 1200 --train-n 1000 --val-n 200 --test-n 500 --steps 60 --periods 2 \
  --checkpoint-dir "$tmp/ck" --checkpoint-every 30 --keep-last 1 > "$tmp/train.log"
grep -q "^test: *accuracy" "$tmp/train.log"
# The closing lines say where the time and the files went.
grep -q "^whole command: [0-9.]* s (data [0-9.]* s, compile [0-9.]* s, training [0-9.]* s, evaluation [0-9.]* s, other" \
  "$tmp/train.log" || { echo "no whole-command line"; cat "$tmp/train.log"; exit 1; }
grep -qF "checkpoints: $tmp/ck (last.safetensors, final.safetensors)" "$tmp/train.log"
for f in last final ckpt-60; do test -s "$tmp/ck/$f.safetensors"; done
[[ ! -e "$tmp/ck/ckpt-30.safetensors" ]] || { echo "--keep-last 1 kept ckpt-30"; exit 1; }
"$GRADC" eval --watch "$tmp/ck" --watch-timeout 1 --limit 300 > "$tmp/watch.log"
n=$(grep -c "accuracy" "$tmp/watch.log")
# last, final and ckpt-60 hold step 60's weights: evaluated once.
[[ $n -eq 1 ]] || { echo "eval --watch evaluated $n checkpoints, expected 1 (one step's weights)"; cat "$tmp/watch.log"; exit 1; }
predicted=$("$GRADC" predict --checkpoint "$tmp/ck/final.safetensors" --image 0)  # no pipe into grep -q: SIGPIPE
grep -q "label 7" <<<"$predicted"
# --json: one object each, for scripts.
"$GRADC" predict --checkpoint "$tmp/ck/final.safetensors" --image 0 --json > "$tmp/p.json"
"$GRADC" eval --checkpoint "$tmp/ck/final.safetensors" --limit 300 --json > "$tmp/e.json"
python3 - "$tmp/p.json" "$tmp/e.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["label"] == 7 and p["predicted"] == 7 and len(p["probabilities"]) == 10, p
assert abs(sum(p["probabilities"]) - 1) < 1e-6, p
e = json.load(open(sys.argv[2]))
assert e["examples"] == 300 and 0.5 < e["accuracy"] <= 1 and e["model"] == "dnn", e
assert sum(map(sum, e["confusion"])) == 300 and e["step"] == "60", e
PY
# predict --png: MNIST test image 0 (a 7) redrawn ×5, dark on a white 180×160 page, as an 8-bit gray
# PNG written by Python's zlib; the model must read it as it reads the original.
python3 - "${GRADC_DATA:-data}/mnist/t10k-images-idx3-ubyte" "$tmp/seven.png" <<'PY'
import struct, sys, zlib
px = open(sys.argv[1], 'rb').read()[16:16 + 784]
w, h = 180, 160
rows = []
for y in range(h):
    row = bytearray([0])
    for x in range(w):
        iy, ix = (y - 20) // 5, (x - 50) // 5
        row.append(255 - px[iy * 28 + ix] if 0 <= iy < 28 and 0 <= ix < 28 else 255)
    rows.append(bytes(row))
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
png += chunk(b'IDAT', zlib.compress(b''.join(rows))) + chunk(b'IEND', b'')
open(sys.argv[2], 'wb').write(png)
PY
own=$("$GRADC" predict --checkpoint "$tmp/ck/final.safetensors" --png "$tmp/seven.png" --plot "$tmp/own.png")
grep -q "seven.png (preprocessed to 28×28 as MNIST): predicted 7" <<<"$own" || { echo "predict --png: $own"; exit 1; }
grep -q "^top 3:  7 (p = " <<<"$own"
test -s "$tmp/own.png"
echo "not a png" > "$tmp/bad.png"
set +e
"$GRADC" predict --checkpoint "$tmp/ck/final.safetensors" --png "$tmp/bad.png" 2> "$tmp/bad.err"
status=$?
set -e
[[ $status -eq 2 ]] && grep -q "bad.png: not a readable PNG" "$tmp/bad.err" || { echo "bad --png: exit $status"; exit 1; }
# The watcher reports and skips bad entries (a FIFO, a directory, a checkpoint naming no model) and
# keeps evaluating the good ones; it must not hang on the FIFO.
mkdir -p "$tmp/w/dir.safetensors"
mkfifo "$tmp/w/fifo.safetensors"
printf '\x02\x00\x00\x00\x00\x00\x00\x00{}' > "$tmp/w/nomodel.safetensors"
cp "$tmp/ck/final.safetensors" "$tmp/w/good.safetensors"
timeout 120 "$GRADC" eval --watch "$tmp/w" --watch-timeout 1 --limit 100 > "$tmp/w.log" 2> "$tmp/w.err"
grep -q "good.safetensors.*accuracy" "$tmp/w.log" || { echo "watcher did not evaluate the good checkpoint"; exit 1; }
for bad in dir fifo nomodel; do
  grep -q "skipping $tmp/w/$bad.safetensors" "$tmp/w.err" || { echo "watcher did not report $bad"; cat "$tmp/w.err"; exit 1; }
done
# Output paths are data, never shell or gnuplot text: a name with quotes and a command in it is
# written as that file, and the command does not run.
evil="$tmp/a';touch $tmp/pwned;'b"
mkdir -p "$evil"
mkdir -p "$(dirname "$evil/p'\"\$(touch $tmp/pwned2).png")"  # the name holds a '/': --plot needs its folder
"$GRADC" predict --checkpoint "$tmp/ck/final.safetensors" --image 0 --plot "$evil/p'\"\$(touch $tmp/pwned2).png" >/dev/null
test -s "$evil/p'\"\$(touch $tmp/pwned2).png" || { echo "predict --plot did not write the quoted path"; exit 1; }
[[ ! -e "$tmp/pwned" && ! -e "$tmp/pwned2" ]] || { echo "a path reached a shell"; exit 1; }
# Divergence is reported with the flag to change (it used to finish at a loss of 8.6e18 in silence).
"$GRADC" train dnn --lr 1e6 --steps 30 --first-n 1200 --train-n 1000 --val-n 200 --test-n 100 --periods 2 \
  > /dev/null 2> "$tmp/diverge.err" || true
grep -q "warning: the training loss exploded to .* lower --lr (now 1e+06)" "$tmp/diverge.err" ||
  { echo "no divergence warning"; cat "$tmp/diverge.err"; exit 1; }
summary=$("$GRADC" summary mlp512)  # captured first: grep -q closing the pipe early is a SIGPIPE
grep -q "Total params: 932,362" <<<"$summary"
models=$("$GRADC" models)
grep -q "^mlp512 .* 932,362 parameters" <<<"$models"
grep -q "optimizer: rmsprop, learning rate: 0.001, batch: 128, training: 16 epochs" <<<"$models"
grep -q "^dense1 (Dense, relu) *(None, 512) *401,920" <<<"$summary"
grep -q "^dropout_2 (Dropout) *(None, 512) *0$" <<<"$summary"
# Keras's mnist_convnet table: the same rows, shapes and 34,826 parameters.
summary=$("$GRADC" summary convnet)
for row in "conv1 (Conv2D, relu) *(None, 26, 26, 32) *320" "max_pooling2d (MaxPooling2D) *(None, 13, 13, 32) *0" \
  "conv2 (Conv2D, relu) *(None, 11, 11, 64) *18,496" "max_pooling2d_1 (MaxPooling2D) *(None, 5, 5, 64) *0" \
  "flatten (Flatten) *(None, 1600) *0" "dropout (Dropout) *(None, 1600) *0" "logits (Dense) *(None, 10) *16,010" \
  "Total params: 34,826"; do
  grep -q "^$row" <<<"$summary" || { echo "summary convnet lacks '$row':"; echo "$summary"; exit 1; }
done
summary=$("$GRADC" summary convnet --conv 16,32 --pool avg --batch-norm)
for row in "bn1 (BatchNormalization) *(None, 26, 26, 16) *64" "average_pooling2d_1 (AveragePooling2D) *(None, 5, 5, 32)" \
  "Non-trainable params: 96"; do
  grep -q "^$row" <<<"$summary" || { echo "summary convnet --batch-norm lacks '$row':"; echo "$summary"; exit 1; }
done
# One-vs-all: trained, then softmax regression on the same data beside it, on the terminal and in
# the report.
"$GRADC" train ova --first-n 1200 --train-n 1000 --val-n 200 --test-n 300 --steps 100 --report "$tmp/ova" \
  > "$tmp/ova.log"
grep -q "^softmax regression (linear), the same data, steps and recipe: test accuracy 0\.[0-9]* (one-vs-all: 0\." \
  "$tmp/ova.log" || { echo "train ova: no softmax comparison"; cat "$tmp/ova.log"; exit 1; }
test -s "$tmp/ova/confusion_softmax.png"
grep -qF "report: $tmp/ova/index.html" "$tmp/ova.log"
grep -q "^checkpoints: none (--checkpoint-dir DIR keeps them)" "$tmp/ova.log"
grep -q "^whole command: .*, report [0-9.]* s, other" "$tmp/ova.log"
grep -q "<h2>Compared with</h2>" "$tmp/ova/index.html"
# The most confident mistakes: sorted by probability, every row a wrong answer (one-vs-all scores).
python3 - "$tmp/ova/mistakes.csv" <<'PY' || exit 1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert 0 < len(rows) <= 30, len(rows)
assert all(r["label"] != r["predicted"] for r in rows), rows
p = [float(r["probability"]) for r in rows]
assert p == sorted(p, reverse=True) and all(0 < v <= 1 for v in p), p
PY
test -s "$tmp/ova/mistakes.png" && grep -q 'src="mistakes.png"' "$tmp/ova/index.html"
# gradc compare: two runs that differ in the learning rate, overlaid, the differing row listed.
for lr in 0.05 0.2; do
  "$GRADC" train dnn --first-n 1200 --train-n 1000 --val-n 200 --test-n 300 --steps 40 --lr $lr --report "$tmp/lr$lr" \
    --quiet >/dev/null
done
"$GRADC" compare "$tmp/lr0.05" "$tmp/lr0.2" -o "$tmp/cmp" | grep -q "compared 2 runs" || { echo "compare"; exit 1; }
grep -q '<th scope="row">learning rate</th><td>0.05</td><td>0.2</td>' "$tmp/cmp/index.html" \
  || { echo "compare: no learning-rate row"; exit 1; }
if grep -q '<th scope="row">seed</th>' "$tmp/cmp/index.html"; then echo "compare lists an equal hyperparameter"; exit 1; fi
[[ -s $tmp/cmp/loss.png && -s $tmp/cmp/accuracy.png ]] || { echo "compare: charts"; exit 1; }
# --quiet: the result line alone.
quiet=$("$GRADC" train dnn --first-n 1200 --train-n 1000 --val-n 200 --test-n 300 --steps 20 --quiet)
[[ $(wc -l <<<"$quiet") -eq 1 && "$quiet" == "dnn: test accuracy 0."*"(300 examples)" ]] \
  || { echo "train --quiet printed: $quiet"; exit 1; }
# Model names in any letter case.
upper=$("$GRADC" summary DNN)
grep -q 'Model: "dnn"' <<<"$upper" || { echo "summary DNN: $upper"; exit 1; }
# --help: grouped, defaults shown, no CLI11 type names, "gradc" (not the binary's path) in Usage.
help=$("$GRADC" train --help)
grep -q "^Usage: gradc train \[OPTIONS\] model" <<<"$help" || { echo "train --help usage: $help"; exit 1; }
for group in Data: Model: Optimizer: "Schedule and callbacks:" Checkpoints: Output: Compile:; do
  grep -qx "$group" <<<"$help" || { echo "train --help lacks the group $group"; exit 1; }
done
if grep -Eq "INT:INT|FLOAT:FLOAT|TEXT" <<<"$help"; then echo "train --help shows type names: $help"; exit 1; fi
grep -Eq -- "--precision VALUE .*\(default f32\)" <<<"$help" || { echo "train --help: no default for --precision"; exit 1; }
# bench --compare-fusion --report: speed-ups in the CSV, a skipped engine's column empty (not 0),
# the chart and a page with the µs table.
"$GRADC" bench dnn --compare-fusion --batch 30 --reps 5 --no-torch --report "$tmp/fus" >/dev/null
head -1 "$tmp/fus/fusion.csv" | grep -q ",pytorch_us,speedup_1t,speedup_2t$" || { echo "fusion.csv header"; exit 1; }
python3 - "$tmp/fus/fusion.csv" <<'PY' || exit 1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1 and rows[0]["config"] == "dnn b30", rows
r = rows[0]
assert r["pytorch_us"] == "", "a skipped PyTorch column must be empty: " + r["pytorch_us"]
for k in ("1t", "2t"):
    want = float(r[f"unfused_{k}_us"]) / float(r[f"fused_{k}_us"])
    # µs are rounded to 0.01 in the CSV: the ratio of two rounded values moves with its size
    assert abs(float(r[f"speedup_{k}"]) - want) < 2e-3 + 1e-3 * want, (k, r)
PY
[[ -s "$tmp/fus/fusion.png" ]] && grep -q "<td>dnn b30</td>" "$tmp/fus/fusion.html" || { echo "fusion chart/page"; exit 1; }
version=$("$GRADC" --version)
grep -q "^gradc 0.1.0 (LLVM 19" <<<"$version" || { echo "--version: $version"; exit 1; }
# Logs reach a file while training runs (stdout is line-buffered), not only at exit.
"$GRADC" train dnn --engine reference --first-n 1200 --train-n 1000 --val-n 200 --test-n 100 --steps 3000 \
  --periods 30 > "$tmp/live.log" 2>&1 &
live=$!
for _ in $(seq 600); do grep -q "^Period 1/30" "$tmp/live.log" && break; sleep 0.05; done
kill -0 "$live" 2>/dev/null || { echo "training ended before the check"; exit 1; }
grep -q "^Period 1/30" "$tmp/live.log" || { echo "no period line in the log while training"; cat "$tmp/live.log"; exit 1; }
kill "$live"
wait "$live" 2>/dev/null || true
echo "cli workflow ok"
