# dssim replay: re-timing small committed traces, trace comparison, and bad input (exit 2
# naming the file, no output left behind). The real DeepSeek training profile runs when the
# shared data is present.
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
set(_train ${CMAKE_SOURCE_DIR}/../shared/data/traces/deepseek-profile-data/train.json)
if(EXISTS ${_train})
  dssim_add_cli_test(replay_train_h800
    ARGS replay --trace ${_train} --from h800 --to h800 --out ${_ro}/train_h800
    MATCH "129\\.012 ms \\(h800 \\(recorded\\)\\) -> 129\\.012 ms .*unknown kernels: 0; import warnings: 0")
  dssim_add_cli_test(replay_train_ascend
    ARGS replay --trace ${_train} --from h800 --to ascend-910c --out ${_ro}/train_910c
    MATCH "span: 129\\.012 ms")
endif()
