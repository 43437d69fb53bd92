#!/usr/bin/env bash
# Sets up, builds (release preset) and runs the whole test suite with ctest.
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/npm-deps.sh  # the tokenizer's JavaScript reference (tests/tokenizer)
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
ctest --preset release "$@"
