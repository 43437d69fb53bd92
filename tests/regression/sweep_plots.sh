#!/usr/bin/env bash
# What a sweep's reader sees (issue 21): sweep_plots.sh EXE H5PY_PYTHON OUT
# Runs the four quick built-in studies and tests/data/sweep/small.json, then checks every plot
# (tests/regression/svg_check.py: rendered with rsvg-convert, nothing outside the canvas, every
# point drawn, phases never mixed), results.csv, results.h5 (h5_check.py: units, descriptions,
# integer and boolean types, NaN where a figure does not exist) and that summary.md answers
# prefill and decode apart. The capacity study (two minutes) is checked in the slow tier
# (sweep_builtin_studies).
set -euo pipefail
exe=$1; py=$2; out=$3
here=$(dirname "$0")
command -v rsvg-convert >/dev/null || { echo "rsvg-convert missing: scripts/setup.sh --test installs librsvg2-bin"; exit 1; }
rm -rf "$out"; mkdir -p "$out"
dirs=()
for s in chips-head-to-head h800-h20-h100-decode fp8-vs-bf16-vs-int8 ascend-910c-what-if tests/data/sweep/small.json; do
  name=$(basename "$s" .json)
  "$exe" sweep --study "$s" --out "$out/$name" --threads 2 >/dev/null
  dirs+=("$out/$name")
done
"$py" "$here/svg_check.py" "${dirs[@]}"
for d in "${dirs[@]}"; do "$py" "$here/h5_check.py" "$d/results.h5" "$d/results.csv"; done
sum=$out/chips-head-to-head/summary.md
grep -q "^Highest prefill throughput meeting the SLO: .* input tokens/s per device" "$sum"
grep -q "^Highest decode throughput meeting the SLO: .* output tokens/s per device" "$sum"
grep -q "^## Results: prefill" "$sum"
grep -q "^## Results: decode" "$sum"
if grep -q "^Highest throughput" "$sum"; then echo "a ranking across phases"; exit 1; fi
echo "sweep plots OK"
