#!/usr/bin/env bash
# Every picture the README and docs/*.md show must be a file in the repository: a Markdown image
# ![alt](path) or an <img src="path">, relative to the Markdown file, committed to git (when this is
# a git checkout; otherwise present on disk).
set -euo pipefail
cd "$1"
tracked() { if git rev-parse --git-dir > /dev/null 2>&1; then git ls-files --error-unmatch "$1" > /dev/null 2>&1; else [[ -f "$1" ]]; fi; }
bad=0 n=0
for md in README.md docs/*.md; do
  [[ -f "$md" ]] || continue
  base=$(dirname "$md")
  links=$(grep -oE '!\[[^]]*\]\([^) ]+|<img [^>]*src=["'"'"'][^"'"'"']+' "$md" | sed -E 's/^!\[[^]]*\]\(//; s/^<img .*src=["'"'"']//' || true)
  for link in $links; do
    case "$link" in http://* | https://*) continue ;; esac
    n=$((n + 1))
    path=$(realpath -m --relative-to=. "$base/$link")
    if ! tracked "$path"; then
      echo "$md: image $link is not a committed file"
      bad=1
    fi
  done
done
[[ $n -gt 0 ]] || { echo "no image links found in README.md: the pattern is broken"; exit 1; }
[[ $bad -eq 0 ]] || exit 1
echo "doc images: all $n image links resolve to committed files"
