#!/usr/bin/env bash
# Runs the standing mutant list (tools/mutants.py) against a private copy of the sources in
# build-mutants/: every mutant must be caught by a test. Too slow for CI (see docs/testing.md for
# the last table and its duration). Usage: tools/mutants.sh [--only REGEX] [--list] [-j N]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
command -v ninja >/dev/null || { echo "mutants: ninja not found (run tools/setup.sh first)" >&2; exit 2; }
exec python3 "$here/tools/mutants.py" --repo "$here" "$@"
