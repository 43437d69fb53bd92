#!/usr/bin/env bash
# Trace output and the replay timeline (issue 21): trace_output_check.sh EXE OUT
# - simulate --mode full --trace T.json.gz writes gzip (magic 1f 8b) that replay reads back,
#   byte-identical on rerun; --trace-devices keeps only the listed devices;
# - the replay HTML timeline has a time axis (ms ticks) and a hover <title> on every kernel box.
set -euo pipefail
exe=$1; out=$2
rm -rf "$out"; mkdir -p "$out"
sim=(simulate --model deepseek-v3 --device h800 --devices 16 --ep 16 --batch 4 --mode full)
DSSIM_PROGRESS=0 "$exe" "${sim[@]}" --trace "$out/all.json" >/dev/null
DSSIM_PROGRESS=0 "$exe" "${sim[@]}" --trace "$out/some.json.gz" --trace-devices 0,3-4 >/dev/null
DSSIM_PROGRESS=0 "$exe" "${sim[@]}" --trace "$out/again.json.gz" --trace-devices 0,3-4 >/dev/null
cmp "$out/some.json.gz" "$out/again.json.gz"
[[ $(head -c 2 "$out/some.json.gz" | od -An -tx1 | tr -d ' ') == 1f8b ]] || { echo "not gzip"; exit 1; }
gunzip -c "$out/some.json.gz" >"$out/some.json"
pids=$(grep -o '"pid":[0-9]*' "$out/some.json" | sort -u | tr '\n' ' ')
[[ "$pids" == '"pid":0 "pid":3 "pid":4 ' ]] || { echo "devices kept: $pids"; exit 1; }
all=$(stat -c %s "$out/all.json"); some=$(stat -c %s "$out/some.json.gz")
(( some * 20 < all )) || { echo "gzip of 3 devices ($some B) not much smaller than all ($all B)"; exit 1; }
set +e
"$exe" "${sim[@]}" --trace "$out/bad.json" --trace-devices 0,16 >"$out/bad.log" 2>&1; rc=$?
set -e
[[ $rc == 2 ]] && grep -q "trace-devices: device 16 is not in the deployment" "$out/bad.log" ||
  { echo "bad --trace-devices: exit $rc"; cat "$out/bad.log"; exit 1; }
# The gzip trace replays; its HTML timeline has an axis and hover details.
"$exe" replay --trace "$out/some.json.gz" --from h800 --to h100 --out "$out/replay" >/dev/null
html=$out/replay/report.html
grep -q '>ms</text>' "$html" || { echo "no time axis in $html"; exit 1; }
rects=$(grep -c 'height="16.0" fill="#[0-9a-f]*">' "$html" || true)
tips=$(grep -o '</title></rect>' "$html" | wc -l)
(( tips > 10 && tips == rects )) || { echo "hover titles: $tips for $rects kernel boxes"; exit 1; }
echo "trace output OK"
