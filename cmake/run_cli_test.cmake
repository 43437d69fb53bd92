# Runs one dssim command line for dssim_add_cli_test and checks exit code and output.
# dssim_add_cli_test escapes the argument list as "a\;b" so it survives add_test; -D keeps the
# backslashes, so turn it back into a list here.
string(REPLACE "\\;" ";" ARGS "${ARGS}")
execute_process(
  COMMAND ${DSSIM_EXE} ${ARGS}
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
set(all "${out}${err}")
if(NOT "${exit_code}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "dssim ${ARGS}\nexpected exit ${EXPECT_EXIT}, got ${exit_code}\n--- output ---\n${all}")
endif()
if(NOT "${MATCH}" STREQUAL "" AND NOT all MATCHES "${MATCH}")
  message(FATAL_ERROR "dssim ${ARGS}\noutput does not match /${MATCH}/\n--- output ---\n${all}")
endif()
if(NOT "${NO_MATCH}" STREQUAL "" AND all MATCHES "${NO_MATCH}")
  message(FATAL_ERROR "dssim ${ARGS}\noutput unexpectedly matches /${NO_MATCH}/\n--- output ---\n${all}")
endif()
if(NOT "${NO_FILE}" STREQUAL "" AND EXISTS "${NO_FILE}")
  message(FATAL_ERROR "dssim ${ARGS}\nleft behind ${NO_FILE}")
endif()
message(STATUS "ok: exit ${exit_code}")
