# dssim run end to end on the tiny synthetic checkpoints (label: regression).
# Included from tests/regression/CMakeLists.txt to register the tests; also run as a script
# (cmake -P run.cmake) by the "same output" tests, which run dssim several times and require
# identical stdout (tokens + logits digest) from every command line.
if(CMAKE_SCRIPT_MODE_FILE)
  # -DDSSIM_EXE=... -DRUNS="args1|args2|..." (each a ;-list with \; escaped as in the helper)
  string(REPLACE "\\;" ";" RUNS "${RUNS}")
  string(REPLACE "|" "\n" RUNS "${RUNS}")
  string(REPLACE "\n" ";" _runs_list "${RUNS}")
  set(_first "")
  set(_first_args "")
  foreach(_r IN LISTS _runs_list)
    string(REPLACE "," ";" _args "${_r}")
    string(REPLACE "@" "," _args "${_args}")
    execute_process(COMMAND ${DSSIM_EXE} ${_args} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out
                    ERROR_VARIABLE _err)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "dssim ${_args}: exit ${_rc}\n${_out}${_err}")
    endif()
    if(NOT _out MATCHES "logits_sha256 [0-9a-f]+")
      message(FATAL_ERROR "dssim ${_args}: no digest in\n${_out}")
    endif()
    if(_first_args STREQUAL "")
      set(_first "${_out}")
      set(_first_args "${_args}")
    elseif(NOT _out STREQUAL _first)
      message(FATAL_ERROR "outputs differ\n--- dssim ${_first_args}\n${_first}--- dssim ${_args}\n${_out}")
    endif()
  endforeach()
  message(STATUS "ok: identical output")
  return()
endif()

set(_rd ${CMAKE_BINARY_DIR}/run_regression)
set(_tiny ${_rd}/tiny)
set(_v2 ${_rd}/v2lite)
dssim_add_cli_test(run_synth_tiny ARGS checkpoint synth --model deepseek-tiny --seed 3 --out ${_tiny})
dssim_add_cli_test(run_synth_v2lite ARGS checkpoint synth --model deepseek-tiny-v2lite --seed 3 --out ${_v2})
set_tests_properties(cli:run_synth_tiny cli:run_synth_v2lite PROPERTIES FIXTURES_SETUP run_ckpt)

# Helper: a test that requires the checkpoints.
macro(_run_test name)
  dssim_add_cli_test(${name} ${ARGN})
  set_tests_properties(cli:${name} PROPERTIES FIXTURES_REQUIRED run_ckpt)
endmacro()

# Output format: one line per sequence, the digest, the MTP acceptance.
_run_test(run_tiny ARGS run --checkpoint ${_tiny} --tokens 1,2,3 --tokens 4,5 --max-new-tokens 4
  MATCH "sequence 0: [0-9]+ [0-9]+ [0-9]+ [0-9]+.sequence 1: [0-9]+ [0-9]+ [0-9]+ [0-9]+.logits_sha256 [0-9a-f]+  [(]4 steps, 11 rows[)]")
_run_test(run_tiny_json ARGS run --checkpoint ${_tiny} --tokens 1,2,3 --max-new-tokens 2 --json
  MATCH "\"logits_sha256\": \"[0-9a-f]+\"")
_run_test(run_tiny_mtp ARGS run --checkpoint ${_tiny} --tokens 1,2,3 --max-new-tokens 5 --mtp
  MATCH "mtp acceptance [0-9]+/[0-9]+")
_run_test(run_v2lite_fp8_is_bf16 ARGS run --checkpoint ${_v2} --tokens 9,8,7 --max-new-tokens 2 --mode fp8
  MATCH "logits_sha256")
_run_test(run_timing_on_stderr ARGS run --checkpoint ${_tiny} --tokens 1 --max-new-tokens 1
  MATCH "dssim run: open .* generate .* s")

# Bad input: one line, exit 2.
_run_test(run_token_out_of_vocab EXIT 2 ARGS run --checkpoint ${_tiny} --tokens 1,1024
  MATCH "error: --tokens: token 1024 [(]sequence 0, position 1[)] is outside the vocabulary")
_run_test(run_token_not_a_number EXIT 2 ARGS run --checkpoint ${_tiny} --tokens 1,x
  MATCH "error: --tokens: expected comma-separated integer")
_run_test(run_no_tokens EXIT 2 ARGS run --checkpoint ${_tiny} MATCH "error: --tokens")
_run_test(run_bad_checkpoint EXIT 2 ARGS run --checkpoint ${_rd}/missing --tokens 1
  MATCH "error: .*missing")
_run_test(run_mtp_without_module EXIT 2 ARGS run --checkpoint ${_v2} --tokens 1 --mtp
  MATCH "error: --mtp: .* has no MTP module")
_run_test(run_bad_mode EXIT 2 ARGS run --checkpoint ${_tiny} --tokens 1 --mode fp4
  MATCH "error: --mode")

# Identical stdout (tokens and logits digest) for --threads 1, 2, 3, 7 and across runs (MTP vs
# greedy token identity is a unit test: the digests differ by design there).
function(_run_same name runs)
  add_test(NAME run:${name}
    COMMAND ${CMAKE_COMMAND} -DDSSIM_EXE=$<TARGET_FILE:dssim> "-DRUNS=${runs}"
      -P ${CMAKE_CURRENT_LIST_DIR}/run.cmake
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(run:${name} PROPERTIES LABELS regression FIXTURES_REQUIRED run_ckpt)
endfunction()
set(_common "run,--checkpoint,${_tiny},--tokens,5@6@7@8,--tokens,9,--max-new-tokens,3")
_run_same(threads_demo_absorbed
  "${_common},--threads,1|${_common},--threads,2|${_common},--threads,3|${_common},--threads,7|${_common},--threads,1")
_run_same(threads_fp8_naive_sampled
  "${_common},--mode,fp8,--attention,naive,--temperature,0.8,--seed,5,--threads,1|${_common},--mode,fp8,--attention,naive,--temperature,0.8,--seed,5,--threads,3")
set(_v2c "run,--checkpoint,${_v2},--tokens,1@2@3,--tokens,4@5,--max-new-tokens,3")
_run_same(threads_v2lite "${_v2c},--threads,1|${_v2c},--threads,2|${_v2c},--threads,7")
