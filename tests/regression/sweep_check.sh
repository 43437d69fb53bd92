#!/usr/bin/env bash
# Sweep identity checks: 1 thread == 2 threads; stop after 2 points + --resume == full run;
# every SVG parses as XML with an <svg> root.
set -euo pipefail
exe=$1; study=$2; out=$3
rm -rf "$out"; mkdir -p "$out"
"$exe" sweep --study "$study" --out "$out/serial" --threads 1 >/dev/null
"$exe" sweep --study "$study" --out "$out/parallel" --threads 2 >/dev/null
"$exe" sweep --study "$study" --out "$out/resumed" --threads 2 --stop-after 2 >/dev/null
test ! -e "$out/resumed/results.csv"
"$exe" sweep --study "$study" --out "$out/resumed" --threads 2 --resume >/dev/null
for f in results.csv results.h5 summary.md points.journal bottleneck.svg pareto_tpot.svg; do
  cmp "$out/serial/$f" "$out/parallel/$f"
  cmp "$out/serial/$f" "$out/resumed/$f"
done
python3 - "$out/serial" <<'PY'
import sys, glob, xml.etree.ElementTree as ET
files = glob.glob(sys.argv[1] + "/*.svg")
assert len(files) >= 4, files
for f in files:
    root = ET.parse(f).getroot()
    assert root.tag.endswith("svg"), f
    assert len(root.findall(".//{http://www.w3.org/2000/svg}text")) > 3, f
PY
echo "sweep identity OK"
