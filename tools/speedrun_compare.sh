#!/bin/bash
# The MNIST speedrun, gradc against PyTorch on the same host in one run: `gradc train speedrun` and
# tools/speedrun_torch.py (the same network and recipe) alternately for each seed, one Markdown
# row per run: test accuracy and seconds from the loaded data to the test figures.
# Usage: tools/speedrun_compare.sh [SEEDS (default 1 2 3 4 5)]   (GRADC, DATA override the paths)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
gradc=${GRADC:-$here/build/gradc}
data=${DATA:-$here/data}
seeds=("$@")
# PyTorch's GEMMs run on OpenBLAS, whose own detection picks SSE3 (Prescott) kernels on CPUs it does
# not know and which this environment may pin to Haswell: give it the host's widest, as gradc's
# benchmarks give their OpenBLAS column (tools/peak.cpp).
flags=$(grep -m1 '^flags' /proc/cpuinfo)
core=
if [[ $flags == *avx512f* && $flags == *avx512bw* && $flags == *avx512vl* ]]; then core=SkylakeX
elif [[ $flags == *avx2* && $flags == *fma* ]]; then core=Haswell; fi
((${#seeds[@]})) || seeds=(1 2 3 4 5)
echo "host: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) CPUs), torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null || echo missing), OPENBLAS_CORETYPE=${core:-auto}"
echo "| seed | gradc test acc. | gradc s (compile + train + eval) | PyTorch test acc. | PyTorch s (train + eval) |"
echo "|---|---|---|---|---|"
for s in "${seeds[@]}"; do
  out=$("$gradc" train speedrun --seed "$s" --data "$data" --no-cache 2>&1)  # a cold compile each time
  acc=$(sed -n 's/^test: *accuracy \([0-9.]*\).*/\1/p' <<<"$out")
  secs=$(sed -n 's/^from the loaded data to the test figures: \([0-9.]*\) s (compile \([0-9.]*\) s, training \([0-9.]*\) s, evaluation \([0-9.]*\) s)/\1 (\2 + \3 + \4)/p' <<<"$out")
  t=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ${core:+OPENBLAS_CORETYPE=$core} \
    /usr/bin/python3 "$here/tools/speedrun_torch.py" "$data/mnist" "$s" 2 || true)
  tacc=$(sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p' <<<"$t")
  tsecs=$(sed -n 's/.*"seconds": \([0-9.]*\), "train_seconds": \([0-9.]*\), "eval_seconds": \([0-9.]*\).*/\1 (\2 + \3)/p' <<<"$t")
  echo "| $s | $acc | $secs | ${tacc:-n/a} | ${tsecs:-n/a} |"
done
