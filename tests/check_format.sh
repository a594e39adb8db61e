#!/usr/bin/env bash
# Fails when a C++ source differs from the repository's .clang-format style (Debian 12's clang-format 14).
set -euo pipefail
cd "$1"
files=$(git ls-files '*.cpp' '*.h' 2>/dev/null || find autodiff compiler runtime models tools tests -name '*.cpp' -o -name '*.h')
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -l) files match .clang-format"
