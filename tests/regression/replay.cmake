# dssim replay: re-timing small committed traces, trace comparison, and bad input (exit 2
# naming the file, no output left behind). --deployment in both formats: a built-in
# dssim-deployment/1 name must re-time byte-identically to the replay file describing the same
# micro-batch. The real DeepSeek training profile runs when the shared data is present.
set(_td tests/data/traces)
set(_ro ${CMAKE_BINARY_DIR}/replay-out)
dssim_add_cli_test(replay_kineto_h100
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100 --out ${_ro}/kineto_h100
  MATCH "span: 1\\.485 ms \\(h800 \\(recorded\\)\\) -> .*unknown kernels: 1")
dssim_add_cli_test(replay_kineto_same_device
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h800 --out ${_ro}/kineto_h800
  MATCH "1\\.485 ms \\(h800 \\(recorded\\)\\) -> 1\\.485 ms \\(h800 \\(replayed\\)\\), \\+0\\.00%")
dssim_add_cli_test(replay_dssim_trace_to_system
  ARGS replay --trace ${_td}/small_dssim.json --from h800 --to cloudmatrix-384 --out ${_ro}/dssim_cm
  MATCH "span: 0\\.304 ms")
dssim_add_cli_test(replay_model_deployment
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to ascend-910c --model deepseek-v3
       --deployment ${_td}/deployment-train-ep64.json --json --out ${_ro}/kineto_model
  MATCH "model experts: 4 local x 8192 rows")
dssim_add_cli_test(replay_diff
  ARGS replay --diff ${_td}/small_kineto.json ${_td}/small_chrome.json --out ${_ro}/diff
  MATCH "span: 1\\.485 ms \\(A: small_kineto.json\\) -> 0\\.383 ms")
dssim_add_cli_test(replay_warnings_counted
  ARGS replay --trace ${_td}/bad_unsorted.json --from h800 --to h100 --out ${_ro}/unsorted
  MATCH "import warnings: 4")
dssim_add_cli_test(replay_truncated EXIT 2
  ARGS replay --trace ${_td}/bad_truncated.json --from h800 --to h100 --out ${_ro}/truncated
  MATCH "bad_truncated.json: byte [0-9]+: malformed JSON" NO_FILE ${_ro}/truncated/report.md)
dssim_add_cli_test(replay_no_device_events EXIT 2
  ARGS replay --trace ${_td}/bad_no_device_events.json --from h800 --to h100 --out ${_ro}/nodev
  MATCH "no device events")
dssim_add_cli_test(replay_missing_file EXIT 2
  ARGS replay --trace ${_td}/no_such.json --from h800 --to h100 --out ${_ro}/missing
  MATCH "no_such.json")
dssim_add_cli_test(replay_unknown_device EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h900 --out ${_ro}/h900
  MATCH "unknown device or system 'h900'")
dssim_add_cli_test(replay_needs_to EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --out ${_ro}/x
  MATCH "needs --trace, --from and --to")
dssim_add_cli_test(replay_model_without_deployment EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100 --model deepseek-v3
       --out ${_ro}/x
  MATCH "--model and --deployment go together")
dssim_add_cli_test(replay_bad_rules EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100 --rules ${_td}/no_rules.json
       --out ${_ro}/x
  MATCH "no_rules.json")

# --deployment as a general deployment (configs/deployments name or dssim-deployment/1 file).
# deepseek-v3-pretrain-h800 is the micro-batch deployment-train-ep64.json describes (EP64,
# 4096 tokens, sequence 4096): the replayed timelines must be the same bytes.
dssim_add_cli_test(replay_builtin_deployment_train
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to ascend-910c
       --deployment deepseek-v3-pretrain-h800 --json --out ${_ro}/kineto_builtin
  MATCH "deployment deepseek-v3-pretrain-h800 \\(EP64, 4096 tokens per micro-batch, sequence 4096, train\\).*model experts: 4 local x 8192 rows")
set_tests_properties(cli:replay_model_deployment PROPERTIES FIXTURES_SETUP replay_kineto_file)
set_tests_properties(cli:replay_builtin_deployment_train PROPERTIES
  FIXTURES_SETUP replay_kineto_builtin)
add_test(NAME cli:replay_builtin_deployment_same_timeline
  COMMAND ${CMAKE_COMMAND} -E compare_files ${_ro}/kineto_model/replayed.json
          ${_ro}/kineto_builtin/replayed.json)
set_tests_properties(cli:replay_builtin_deployment_same_timeline PROPERTIES
  LABELS regression FIXTURES_REQUIRED "replay_kineto_file;replay_kineto_builtin")
# The same deployment given as its file, with the --model it names.
dssim_add_cli_test(replay_deployment_config_file
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to ascend-910c --model deepseek-v3
       --deployment configs/deployments/deepseek-v3-pretrain-h800.json --out ${_ro}/kineto_cfg
  MATCH "span: 1\\.485 ms")
# Decode: 128 requests per GPU in two micro-batches of 64, one token over a 4K cache, MLA
# absorbed; the same as the decode replay file.
dssim_add_cli_test(replay_builtin_deployment_decode
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to ascend-910c
       --deployment profile-decode-h800 --json --out ${_ro}/kineto_decode_builtin
  MATCH "EP128, 64 tokens per micro-batch, sequence 1 after 4096 cached, decode, absorbed attention.*model MLA attention 64x1 after 4096 decode absorbed")
dssim_add_cli_test(replay_decode_deployment_file
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to ascend-910c --model deepseek-v3
       --deployment ${_td}/deployment-decode-ep128.json --out ${_ro}/kineto_decode_file
  MATCH "span: 1\\.485 ms")
set_tests_properties(cli:replay_builtin_deployment_decode PROPERTIES
  FIXTURES_SETUP replay_decode_builtin)
set_tests_properties(cli:replay_decode_deployment_file PROPERTIES
  FIXTURES_SETUP replay_decode_file)
add_test(NAME cli:replay_builtin_deployment_decode_same_timeline
  COMMAND ${CMAKE_COMMAND} -E compare_files ${_ro}/kineto_decode_file/replayed.json
          ${_ro}/kineto_decode_builtin/replayed.json)
set_tests_properties(cli:replay_builtin_deployment_decode_same_timeline PROPERTIES
  LABELS regression FIXTURES_REQUIRED "replay_decode_file;replay_decode_builtin")
# Prefill: 16K tokens per GPU in two micro-batches of two 4K prompts.
dssim_add_cli_test(replay_builtin_deployment_prefill
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment profile-prefill-h800 --json --out ${_ro}/kineto_prefill
  MATCH "deployment profile-prefill-h800 \\(EP32, 8192 tokens per micro-batch, sequence 4096\\)")
# A model with the deployment's shapes runs (noted); other shapes are refused.
dssim_add_cli_test(replay_deployment_same_shapes_model
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100 --model deepseek-r1
       --deployment deepseek-v3-pretrain-h800 --json --out ${_ro}/kineto_r1
  MATCH "--model deepseek-r1 has the shapes of the deployment's model deepseek-v3")
dssim_add_cli_test(replay_deployment_model_mismatch EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100 --model deepseek-v2
       --deployment deepseek-v3-pretrain-h800 --out ${_ro}/mismatch
  MATCH "deepseek-v3-pretrain-h800\\.json: model: the deployment is for deepseek-v3; --model deepseek-v2 has other shapes \\(layers\\.3\\.attn\\.wq_a: k 7168 vs 5120\\)"
  NO_FILE ${_ro}/mismatch/report.md)
dssim_add_cli_test(replay_deployment_other_from
  ARGS replay --trace ${_td}/small_kineto.json --from h100 --to h800
       --deployment deepseek-v3-pretrain-h800 --json --out ${_ro}/kineto_from_h100
  MATCH "the deployment names device h800 and system h800-cluster-2048; the trace is replayed from h100")
dssim_add_cli_test(replay_deployment_unknown_model EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment ${_td}/bad_deployment_unknown_model.json --out ${_ro}/v9
  MATCH "bad_deployment_unknown_model\\.json: model: unknown model 'deepseek-v9'"
  NO_FILE ${_ro}/v9/report.md)
dssim_add_cli_test(replay_deployment_unknown_name EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment no-such-deployment --out ${_ro}/unknown_dep
  MATCH "replay: --deployment: unknown deployment 'no-such-deployment' \\(not a file; built-in: .*deepseek-v3-pretrain-h800"
  NO_FILE ${_ro}/unknown_dep/report.md)
dssim_add_cli_test(replay_deployment_malformed EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment ${_td}/bad_deployment_truncated.json --out ${_ro}/trunc_dep
  MATCH "bad_deployment_truncated\\.json: malformed JSON: .*line 6, column 57"
  NO_FILE ${_ro}/trunc_dep/report.md)
dssim_add_cli_test(replay_deployment_missing_field EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment ${_td}/bad_deployment_missing_batch.json --out ${_ro}/nobatch
  MATCH "bad_deployment_missing_batch\\.json: workload\\.batch: "
  NO_FILE ${_ro}/nobatch/report.md)
dssim_add_cli_test(replay_deployment_tp EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment ${_td}/bad_deployment_tp2.json --out ${_ro}/tp2
  MATCH "bad_deployment_tp2\\.json: parallel\\.tp: replay derives per-device work for TP1 only \\(got 2\\)"
  NO_FILE ${_ro}/tp2/report.md)
dssim_add_cli_test(replay_deployment_unknown_schema EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment ${_td}/small_chrome.json --out ${_ro}/schema
  MATCH "small_chrome\\.json: schema: expected \"dssim-replay-deployment/1\" or \"dssim-deployment/1\""
  NO_FILE ${_ro}/schema/report.md)
dssim_add_cli_test(replay_deployment_file_needs_model EXIT 2
  ARGS replay --trace ${_td}/small_kineto.json --from h800 --to h100
       --deployment ${_td}/deployment-train-ep64.json --out ${_ro}/nomodel
  MATCH "deployment-train-ep64\\.json: schema: dssim-replay-deployment/1 names no model"
  NO_FILE ${_ro}/nomodel/report.md)
set(_train ${CMAKE_SOURCE_DIR}/../shared/data/traces/deepseek-profile-data/train.json)
if(EXISTS ${_train})
  dssim_add_cli_test(replay_train_h800
    ARGS replay --trace ${_train} --from h800 --to h800 --out ${_ro}/train_h800
    MATCH "129\\.012 ms \\(h800 \\(recorded\\)\\) -> 129\\.012 ms .*unknown kernels: 0; import warnings: 0")
  dssim_add_cli_test(replay_train_ascend
    ARGS replay --trace ${_train} --from h800 --to ascend-910c --out ${_ro}/train_910c
    MATCH "span: 129\\.012 ms")
  # docs/replay.md: the model-derived basis with either deployment form gives 157.188 ms.
  dssim_add_cli_test(replay_train_ascend_deployment_file
    ARGS replay --trace ${_train} --from h800 --to ascend-910c --model deepseek-v3
         --deployment ${_td}/deployment-train-ep64.json --out ${_ro}/train_910c_file
    MATCH "span: 129\\.012 ms \\(h800 \\(recorded\\)\\) -> 157\\.188 ms")
  dssim_add_cli_test(replay_train_ascend_builtin_deployment
    ARGS replay --trace ${_train} --from h800 --to ascend-910c
         --deployment deepseek-v3-pretrain-h800 --out ${_ro}/train_910c_builtin
    MATCH "span: 129\\.012 ms \\(h800 \\(recorded\\)\\) -> 157\\.188 ms")
  set_tests_properties(cli:replay_train_ascend_deployment_file PROPERTIES
    FIXTURES_SETUP replay_train_file)
  set_tests_properties(cli:replay_train_ascend_builtin_deployment PROPERTIES
    FIXTURES_SETUP replay_train_builtin)
  add_test(NAME cli:replay_train_builtin_deployment_same_timeline
    COMMAND ${CMAKE_COMMAND} -E compare_files ${_ro}/train_910c_file/replayed.json
            ${_ro}/train_910c_builtin/replayed.json)
  set_tests_properties(cli:replay_train_builtin_deployment_same_timeline PROPERTIES
    LABELS regression FIXTURES_REQUIRED "replay_train_file;replay_train_builtin")
endif()
