# dssim simulate end to end (label regression). Prefill and decode of DeepSeek-V3 on every
# device config (8 devices, EP8; configs whose memory is too small still simulate and report
# fits=false), error exits, and the trace file.
set(_sim_devices a100 ascend-910b ascend-910c ascend-950pr b200 biren-br100 h100 h20 h200 h800
    hygon-k100 kunlun-p800 metax-c500 mlu370-x8 mtt-s4000)
foreach(_dev IN LISTS _sim_devices)
  dssim_add_cli_test(simulate_prefill_${_dev}
    ARGS simulate --model deepseek-v3 --device ${_dev} --phase prefill --devices 8 --ep 8
         --batch 2 --input-len 256 --json
    MATCH "\"step_time_ms\": [0-9]" NO_MATCH "SystemC|Copyright")
  dssim_add_cli_test(simulate_decode_${_dev}
    ARGS simulate --model deepseek-v3 --device ${_dev} --phase decode --devices 8 --ep 8
         --batch 16 --context 2048 --json
    MATCH "\"tpot_ms\": [0-9]" NO_MATCH "SystemC|Copyright")
endforeach()
dssim_add_cli_test(simulate_text
  ARGS simulate --model deepseek-v3 --system h800-cluster-2048 --devices 32 --ep 32 --batch 8
       --context 1024
  MATCH "TPOT .*fits +yes")
dssim_add_cli_test(simulate_full_mode
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --json
  MATCH "\"simulated_devices\": 16")
dssim_add_cli_test(simulate_does_not_fit
  ARGS simulate --model deepseek-v3 --device h800 --batch 1 --micro-batches 1
  MATCH "does not fit: weights .*weights alone overflow")
dssim_add_cli_test(simulate_bad_phase EXIT 2
  ARGS simulate --model deepseek-tiny --device h800 --phase train
  MATCH "--phase")
dssim_add_cli_test(simulate_bad_ep EXIT 2
  ARGS simulate --model deepseek-tiny --device h800 --devices 8 --ep 3
  MATCH "--ep")
dssim_add_cli_test(simulate_unknown_device EXIT 2
  ARGS simulate --model deepseek-tiny --device h900
  MATCH "h900")
dssim_add_cli_test(simulate_too_many_devices EXIT 2
  ARGS simulate --model deepseek-tiny --system hgx-h800-8 --devices 16 --ep 16
  MATCH "--devices: 16 exceeds")
dssim_add_cli_test(simulate_bad_trace_path EXIT 2
  ARGS simulate --model deepseek-tiny --device h800 --trace /nonexistent-dir/t.json
  NO_FILE /nonexistent-dir/t.json)
# Micro-batches: auto (the default) keeps one for a memory-bound decode on a small chip and two
# for a large batch whose all-to-alls overlap; explicit counts are honoured.
dssim_add_cli_test(simulate_micro_batches_auto_one
  ARGS simulate --model deepseek-v3 --device ascend-910b --devices 32 --ep 32 --batch 8
       --context 4096 --json
  MATCH "\"micro_batches\": 1,[^}]*\"micro_batches_choice\": \"auto\",[^}]*\"micro_batches_other_step_ms\": [0-9]")
dssim_add_cli_test(simulate_micro_batches_auto_two
  ARGS simulate --model deepseek-v3 --system h800-cluster-2048 --devices 32 --ep 32 --batch 256
       --context 4096
  MATCH "2 micro-batch\\(es\\) \\(auto\\).*with 1 micro-batch .*not chosen")
dssim_add_cli_test(simulate_micro_batches_given
  ARGS simulate --model deepseek-v3 --device ascend-910b --devices 32 --ep 32 --batch 8
       --context 4096 --micro-batches 2 --json
  MATCH "\"micro_batches\": 2,[^}]*\"micro_batches_choice\": \"given\",[^}]*\"micro_batches_other_step_ms\": null")
dssim_add_cli_test(simulate_micro_batches_bad EXIT 2
  ARGS simulate --model deepseek-tiny --device h800 --micro-batches 3
  MATCH "--micro-batches: must be 0 \\(auto\\), 1 or 2")
# Per-layer expert loads from a file (full mode): expert 5 of layer 2 takes over half the
# token-expert pairs, so device 5 (its EP rank) becomes the critical one (balanced: device 0).
# A truncated file and one with a count missing exit 2 with one line naming the file.
set(_el ${CMAKE_CURRENT_SOURCE_DIR}/../data/sim)
dssim_add_cli_test(simulate_expert_loads
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --json --expert-loads ${_el}/expert_loads_tiny.json
  MATCH "\"simulated_devices\": 16,[ \n]*\"reported_device\": [0-9]+")
# The report echoes the loads it applied: 256 pairs in layer 2, expert 5 with 136 = 8.5x the
# mean of 16; without a file the list is empty (balanced routing).
dssim_add_cli_test(simulate_expert_loads_echo_json
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --json --expert-loads ${_el}/expert_loads_tiny.json
  MATCH "\"expert_loads\": \\[[ \n]*{[ \n]*\"layer\": 2,[ \n]*\"pairs\": 256\\.0,[ \n]*\"busiest_expert\": 5,[ \n]*\"busiest_pairs\": 136\\.0,[ \n]*\"max_over_mean\": 8\\.5[ \n]*}[ \n]*\\],")
dssim_add_cli_test(simulate_expert_loads_echo_text
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --expert-loads ${_el}/expert_loads_tiny.json
  MATCH "expert loads, layer 2: 256 token-expert pairs, busiest expert 5 with 136 \\(8\\.50x the mean\\)")
dssim_add_cli_test(simulate_expert_loads_none_json
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --json
  MATCH "\"expert_loads\": \\[\\],")
dssim_add_cli_test(simulate_expert_loads_truncated EXIT 2
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --expert-loads ${_el}/expert_loads_truncated.json
  MATCH "^dssim: error: [^ ]*expert_loads_truncated\\.json: malformed JSON"
  NO_MATCH "\n.")
dssim_add_cli_test(simulate_expert_loads_short EXIT 2
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --expert-loads ${_el}/expert_loads_short.json
  MATCH "^dssim: error: [^ ]*expert_loads_short\\.json: layers\\.2: expected 16 counts"
  NO_MATCH "\n.")
# One layer twice (the same key, or two spellings of one index): refused, never merged.
dssim_add_cli_test(simulate_expert_loads_duplicate_key EXIT 2
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --expert-loads ${_el}/expert_loads_duplicate_key.json
  MATCH "^dssim: error: [^ ]*expert_loads_duplicate_key\\.json: layers\\.2: duplicate key"
  NO_MATCH "\n.")
dssim_add_cli_test(simulate_expert_loads_same_layer EXIT 2
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --mode full --expert-loads ${_el}/expert_loads_same_layer.json
  MATCH "^dssim: error: [^ ]*expert_loads_same_layer\\.json: layers\\.0?2: names layer 2 again"
  NO_MATCH "\n.")
# --sensitivity: the estimates the step used, halved and doubled (JSON and a tornado SVG).
dssim_add_cli_test(simulate_sensitivity_json
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --micro-batches 1 --sensitivity --json
  MATCH "\"sensitivity\": {[ \n]*\"step_time_ms\": [0-9.e+-]+,[ \n]*\"fits\": true,[ \n]*\"figures\": \\[[ \n]*{[ \n]*\"figure\": \"assumptions\\.")
dssim_add_cli_test(simulate_sensitivity_text
  ARGS simulate --model deepseek-tiny --system h800-cluster-2048 --devices 16 --ep 16 --batch 4
       --micro-batches 1 --sensitivity --tornado ${CMAKE_CURRENT_BINARY_DIR}/tornado.svg
  MATCH "sensitivity to estimated figures .*assumptions\\.scale_out_latency +2 us")
dssim_add_cli_test(simulate_tornado_needs_sensitivity
  ARGS simulate --model deepseek-tiny --tornado x.svg
  EXIT 2 MATCH "--tornado requires --sensitivity")
