# dssim sweep: bad study files exit 2 naming the field; resume and thread count give the same
# bytes; plots parse as XML (tests/regression/sweep_check.sh).
set(_sw ${CMAKE_CURRENT_SOURCE_DIR}/../data/sweep)
dssim_add_cli_test(sweep_unknown_study EXIT 2 ARGS sweep --study no-such-study MATCH "unknown study")
dssim_add_cli_test(sweep_bad_param EXIT 2 ARGS sweep --study ${_sw}/bad_param.json --out ${CMAKE_BINARY_DIR}/sweep-bad
  MATCH "device.frobs: unknown device field" NO_FILE ${CMAKE_BINARY_DIR}/sweep-bad/results.csv)
dssim_add_cli_test(sweep_bad_field EXIT 2 ARGS sweep --study ${_sw}/bad_field.json MATCH "deployment.devices: must be positive")
dssim_add_cli_test(sweep_bad_path EXIT 2 ARGS sweep --study ${_sw}/bad_path.json MATCH "device.memory.speed")
add_test(NAME sweep_resume_threads_identity
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/sweep_check.sh $<TARGET_FILE:dssim> ${_sw}/small.json ${CMAKE_BINARY_DIR}/sweep-check
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(sweep_resume_threads_identity PROPERTIES LABELS regression)
