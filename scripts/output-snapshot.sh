#!/usr/bin/env bash
# Writes a snapshot of dssim's user-visible outputs (graph reports with every op, simulate
# --json in both modes over TP/EP/DP/redundant/MTP/naive/FP8 variants, a sweep study, replay
# reports, validate, golden files) into OUT_DIR, for a refactor's byte-identity check:
#   scripts/output-snapshot.sh BIN_BEFORE /tmp/before
#   scripts/output-snapshot.sh BIN_AFTER  /tmp/after
#   diff -r /tmp/before /tmp/after     # no output: every output is byte-identical
# Usage: scripts/output-snapshot.sh DSSIM_BINARY OUT_DIR
set -euo pipefail
bin=$(realpath "$1")
out=$2
cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out"
export SC_COPYRIGHT_MESSAGE=DISABLE

run() {  # run NAME ARGS...: stdout and exit code into NAME.txt
    local name=$1
    shift
    local rc=0
    "$bin" "$@" >"$out/$name.txt" 2>"$out/$name.err" || rc=$?
    echo "exit $rc" >>"$out/$name.txt"
}

# Graph reports: every op with its cost and per-device share.
run graph_v3_decode graph --model deepseek-v3 --phase decode --global-batch 64 --context 4096 --ep 32 --devices 32 --json --ops
run graph_v3_prefill_tp graph --model deepseek-v3 --phase prefill --global-batch 4 --seq 512 --tp 4 --devices 8 --json --ops
run graph_v3_train graph --model deepseek-v3 --phase train --global-batch 8 --seq 256 --ep 8 --devices 8 --json --ops
run graph_tiny_train_tp graph --model deepseek-tiny --phase train --global-batch 2 --seq 16 --tp 2 --devices 4 --json --ops
run graph_v3_redundant graph --model deepseek-v3 --phase decode --global-batch 32 --context 100 --ep 36 --devices 72 --redundant-experts 32 --mtp --json --ops
run graph_v3_naive_fp8 graph --model deepseek-v3 --phase prefill --global-batch 2 --seq 128 --attention naive --gemm fp8 --tp 2 --devices 2 --json --ops
run graph_v2lite graph --model deepseek-v2-lite --phase decode --global-batch 8 --context 64 --json --ops

# simulate: both modes, TP/EP/DP, redundant experts, MTP, naive attention, FP8 GEMMs.
sim=(simulate --json)
run sim_decode_h800 "${sim[@]}" --model deepseek-v3 --device h800 --phase decode --devices 32 --ep 32 --batch 64 --context 4096
run sim_decode_h800_full "${sim[@]}" --model deepseek-v3 --device h800 --phase decode --devices 16 --ep 16 --batch 32 --context 2048 --mode full --trace "$out/sim_decode_h800_full.trace.json"
run sim_prefill_h800 "${sim[@]}" --model deepseek-v3 --device h800 --phase prefill --devices 32 --ep 32 --batch 1 --input-len 4096
run sim_prefill_tp "${sim[@]}" --model deepseek-v3 --device h100 --phase prefill --devices 8 --tp 8 --batch 2 --input-len 1024 --trace "$out/sim_prefill_tp.trace.json"
run sim_decode_tp_dp "${sim[@]}" --model deepseek-v3 --device h200 --phase decode --devices 16 --tp 2 --ep 16 --batch 8 --context 1024
run sim_decode_redundant "${sim[@]}" --model deepseek-v3 --device ascend-910c --phase decode --devices 32 --ep 32 --redundant-experts 32 --batch 16 --context 4096 --mtp --mtp-acceptance 0.8
run sim_prefill_naive_fp8 "${sim[@]}" --model deepseek-v3 --device b200 --phase prefill --devices 8 --ep 8 --batch 1 --input-len 2048 --attention naive --gemm fp8 --micro-batches 2 --trace "$out/sim_prefill_naive_fp8.trace.json"
run sim_decode_full_redundant "${sim[@]}" --model deepseek-v3 --device h800 --phase decode --devices 16 --ep 16 --redundant-experts 16 --batch 16 --context 1024 --mode full
run sim_tiny "${sim[@]}" --model deepseek-tiny --device a100 --phase prefill --devices 2 --tp 2 --batch 2 --input-len 64
run sim_loads_tiny "${sim[@]}" --model deepseek-tiny --device h800 --phase decode --devices 4 --ep 4 --batch 8 --context 64 --mode full --expert-loads tests/data/sim/expert_loads_tiny.json --trace "$out/sim_loads_tiny.trace.json"

# validate, a sweep study and replays.
run validate validate
run validate_json validate --json
run sweep_study sweep --study h800-h20-h100-decode --out "$out/sweep_h800_h20_h100"
run sweep_main sweep --study chips-head-to-head --out "$out/sweep_chips"
run replay_model replay --trace tests/data/traces/small_kineto.json --from h800 --to ascend-910c \
    --model deepseek-v3 --deployment tests/data/traces/deployment-train-ep64.json --json --out "$out/replay_model"
run replay_builtin replay --trace tests/data/traces/small_kineto.json --from h800 --to h100 \
    --deployment deepseek-serving-decode-h800 --json --out "$out/replay_decode"

# Golden files on the tiny synthetic checkpoints.
ck="$out/.ckpt"
"$bin" checkpoint synth --model deepseek-tiny --seed 3 --out "$ck/tiny" >/dev/null
"$bin" checkpoint synth --model deepseek-tiny-v2lite --seed 4 --out "$ck/v2lite" >/dev/null
run golden_tiny golden --checkpoint "$ck/tiny" --tokens 1,2,3,4 --tokens 5,6 --max-new-tokens 3 --mtp --tensors all --out "$out/golden_tiny.h5"
run golden_tiny_fp8 golden --checkpoint "$ck/tiny" --tokens 7,8,9 --max-new-tokens 2 --mode fp8 --tensors all --out "$out/golden_tiny_fp8.h5"
run golden_tiny_naive golden --checkpoint "$ck/tiny" --tokens 7,8,9 --max-new-tokens 2 --attention naive --tensors all --out "$out/golden_tiny_naive.h5"
run golden_v2lite golden --checkpoint "$ck/v2lite" --tokens 3,1,4,1,5 --max-new-tokens 2 --tensors all --out "$out/golden_v2lite.h5"
run run_tiny run --checkpoint "$ck/tiny" --tokens 1,2,3 --max-new-tokens 4 --threads 2
rm -rf "$ck"
# Paths and wall-clock times are not outputs: normalise them so two snapshots compare.
sed -i "s|$out|OUT|g" "$out"/*.txt
sed -i -E 's/[0-9]+\.[0-9]+ s\b/T s/g' "$out"/run_tiny.err
echo "snapshot written to $out"
