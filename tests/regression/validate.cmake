# dssim validate: the validation table as a regression. validate_all fails CI when a case that is
# expected to pass leaves its tolerance (exit 1); known gaps are reported, not failed.
set(_vd tests/unit/validation/data)
dssim_add_cli_test(validate_all ARGS validate MATCH "cases: [0-9]+ pass, 0 FAIL")
dssim_add_cli_test(validate_json ARGS validate --json --case deepgemm.
  MATCH "\"name\": \"deepgemm.dense.m4096.n7168.k16384\"")
dssim_add_cli_test(validate_one_case ARGS validate --case flashmla.decode.compute_bound
  MATCH "flashmla.decode.compute_bound +660.0 +660.0 TFLOPS .* pass +calibrated")
dssim_add_cli_test(validate_unknown_case EXIT 2 ARGS validate --case no.such.case
  MATCH "--case: no case matches")
dssim_add_cli_test(validate_bad_case_file EXIT 2 ARGS validate --cases ${_vd}/bad_missing_source.json
  MATCH "bad_missing_source.json: cases\\[0\\]\\.source")
dssim_add_cli_test(validate_failing_case EXIT 1 ARGS validate --cases ${_vd}/failing_case.json
  MATCH "test.gemm.far_off .* FAIL .*test.gemm.gap .* known_gap")
dssim_add_cli_test(validate_compare_devices ARGS validate --compare-devices
  --case system.profile.decode.tokens_per_node MATCH "ascend-910c .*h800 ")
dssim_add_cli_test(validate_compare_kernel_only EXIT 2 ARGS validate --compare-devices --case deepgemm.
  MATCH "no deployment")
