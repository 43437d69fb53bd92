#!/usr/bin/env bash
# Sets up, builds (release preset) and runs dssim's main job on built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
exec ./build/release/bin/dssim sweep --study chips-head-to-head --out results/chips-head-to-head
