#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang-14, ASan + UBSan) and runs each one
# for SECONDS seconds (default 60), starting from the seed corpus in fuzz/corpus/<name>/ if any.
# The targets are those registered with add_dssim_fuzzer in fuzz/CMakeLists.txt. New inputs go
# to build/fuzz/corpus/<name>/, crash reproducers to build/fuzz/crash-*.
# Usage: bash scripts/fuzz.sh [SECONDS] [SEED]
# With SEED the mutation sequence is fixed (CI passes one, so a red fuzz stage reproduces with
# the same seed on the same commit); without it every run explores afresh.
set -euo pipefail
seconds="${1:-60}"
seed_args=()
[[ -n "${2:-}" ]] && seed_args=("-seed=${2}")
cd "$(dirname "$0")/.."

cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j "$(nproc)" --target dssim_fuzzers

status=0
while read -r target; do
  [[ -z "${target}" ]] && continue
  name="${target#fuzz_}"
  work="build/fuzz/corpus/${name}"
  mkdir -p "${work}"
  seeds=()
  [[ -d "fuzz/corpus/${name}" ]] && seeds=("fuzz/corpus/${name}")
  echo "--- ${target}: ${seconds}s"
  if ! "build/fuzz/fuzz/${target}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="build/fuzz/${target}-" \
      "${seed_args[@]}" "${work}" "${seeds[@]}"; then
    echo "FAILED: ${target}"
    status=1
  fi
done < build/fuzz/fuzz/targets.txt
exit "${status}"
