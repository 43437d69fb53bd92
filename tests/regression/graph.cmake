# `dssim graph`: published DeepSeek totals in the JSON, plan validation (exit 2), Graphviz
# output written atomically and never on error.
dssim_add_cli_test(graph_v3_params ARGS graph --model deepseek-v3 --json
  MATCH "\"params_total\": 671026419200,")
dssim_add_cli_test(graph_v3_params_with_mtp ARGS graph --model deepseek-v3 --json
  MATCH "\"params_total_with_mtp\": 684489845504,")
dssim_add_cli_test(graph_v3_activated ARGS graph --model deepseek-v3 --json
  MATCH "\"params_activated_per_token\": 37552297472,")
dssim_add_cli_test(graph_v3_kv_cache ARGS graph --model deepseek-v3 --json
  MATCH "\"kv_cache_bytes_per_token\": 70272,")
dssim_add_cli_test(graph_v3_fields ARGS graph --model deepseek-v3 --json
  MATCH "\"flops_per_token\": [0-9]+.*\"weight_bytes\": 673150611808,.*\"ops\": [0-9]+.*\"by_kind\"")
dssim_add_cli_test(graph_r1_table ARGS graph --model deepseek-r1
  MATCH "params_total +671026419200")
dssim_add_cli_test(graph_v2_params ARGS graph --model deepseek-v2 --json
  MATCH "\"params_total\": 235741434880,")
dssim_add_cli_test(graph_v2_lite_params ARGS graph --model deepseek-v2-lite --json
  MATCH "\"params_total\": 15706484224,")
dssim_add_cli_test(graph_v3_ep144_decode
  ARGS graph --model deepseek-v3 --phase decode --batch 128 --context 4096 --ep 144
       --devices 144 --redundant-experts 32 --mtp --json
  MATCH "\"Dispatch\": {[^}]*\"count\": 59")
dssim_add_cli_test(graph_tiny_train_ops
  ARGS graph --model deepseek-tiny --phase train --batch 2 --seq 16 --dp 2 --ep 2 --ops
  MATCH "layers\\.1\\.moe\\.experts\\.w2\\.grad_weight +GroupedGemm +backward_weight")
dssim_add_cli_test(graph_tiny_dot
  ARGS graph --model deepseek-tiny --phase prefill --seq 8 --tp 2 --dot ${CMAKE_BINARY_DIR}/graph_tiny.dot
  MATCH "AllReduce")
dssim_add_cli_test(graph_bad_tp EXIT 2
  ARGS graph --model deepseek-v3 --tp 3 --dot ${CMAKE_BINARY_DIR}/graph_bad_tp.dot
  MATCH "--tp: 3 does not divide num_attention_heads"
  NO_FILE ${CMAKE_BINARY_DIR}/graph_bad_tp.dot)
dssim_add_cli_test(graph_bad_ep EXIT 2 ARGS graph --model deepseek-v3 --ep 144
  MATCH "--ep: 144 does not divide n_routed_experts \\(256\\)")
dssim_add_cli_test(graph_unknown_model EXIT 2 ARGS graph --model deepseek-v9
  MATCH "unknown model 'deepseek-v9'")
dssim_add_cli_test(graph_bad_phase EXIT 2 ARGS graph --model deepseek-tiny --phase sideways
  MATCH "--phase: unknown phase")
dssim_add_cli_test(graph_no_mtp EXIT 2 ARGS graph --model deepseek-v2 --mtp
  MATCH "--mtp: model deepseek-v2 has no MTP module")
