#!/usr/bin/env bash
# The training report in a real browser: headless Chromium opens index.html (inside a checker page
# that reads the report's DOM once everything has loaded) and every <img> must have decoded with a
# non-zero size; the page must fit a phone-width window without a horizontal scrollbar.
# Usage: report_browser.sh GRADC CHROMIUM [SCREENSHOT.png]
set -euo pipefail
GRADC=$1 CHROMIUM=$2 SHOT=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GRADC" train dnn --first-n 1200 --train-n 1000 --val-n 200 --test-n 500 --steps 60 --periods 3 \
  --schedule exponential --decay-rate 0.5 --decay-steps 20 --staircase --weights-at 20 \
  --report "$tmp/report" > "$tmp/train.log"
cat > "$tmp/check.html" <<'HTML'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>check</title></head><body>
<iframe id="r" src="report/index.html" style="width:1300px;height:900px"></iframe>
<iframe id="phone" src="report/index.html" style="width:400px;height:900px"></iframe>
<pre id="out">PENDING</pre>
<script>
let loaded = 0;
function check() {
  if (++loaded < 2) return;
  const d = document.getElementById('r').contentDocument;
  const imgs = [...d.images];
  const bad = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'));
  const p = document.getElementById('phone').contentDocument.documentElement;
  const overflow = p.scrollWidth > p.clientWidth + 1;
  document.getElementById('out').textContent = 'IMAGES ' + (imgs.length - bad.length) + '/' + imgs.length +
      ' BAD [' + bad.join(' ') + '] PHONE-OVERFLOW ' + overflow + ' TITLE ' + d.title;
}
document.getElementById('r').onload = check;
document.getElementById('phone').onload = check;
</script></body></html>
HTML
# --allow-file-access-from-files: the checker may read the report's DOM (both are file:// pages).
dom=$(timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --allow-file-access-from-files \
  --virtual-time-budget=15000 --dump-dom "file://$tmp/check.html" 2> "$tmp/chromium.err") ||
  { echo "chromium failed:"; tail -5 "$tmp/chromium.err"; exit 1; }
line=$(grep -o 'IMAGES [0-9][^<]*' <<<"$dom" || true)
echo "$line"
[[ "$line" =~ ^IMAGES\ ([0-9]+)/([0-9]+)\ BAD\ \[\]\ PHONE-OVERFLOW\ false\ TITLE\ gradc\ report:\ gradc\ train\ dnn$ ]] ||
  { echo "the report did not load cleanly in Chromium"; exit 1; }
((BASH_REMATCH[1] >= 9)) || { echo "only ${BASH_REMATCH[1]} images in the report"; exit 1; }
if [[ -n "$SHOT" ]]; then
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2600 \
    --screenshot="$SHOT" "file://$tmp/report/index.html" 2> /dev/null
fi
