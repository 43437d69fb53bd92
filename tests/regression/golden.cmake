# dssim golden / dssim check end to end on the tiny synthetic checkpoint (label: regression;
# the h5py layout check is labelled golden). Fixtures order the steps: synth -> golden files ->
# candidates -> checks.
set(_g ${CMAKE_BINARY_DIR}/golden_regression)
set(_ckpt ${_g}/tiny)
set(_run --checkpoint ${_ckpt} --tokens 1,2,3 --tokens 4,5 --max-new-tokens 3 --tensors all)

dssim_add_cli_test(golden_synth ARGS checkpoint synth --model deepseek-tiny --seed 1 --out ${_ckpt})
set_tests_properties(cli:golden_synth PROPERTIES FIXTURES_SETUP golden_ckpt)

foreach(_case t1 t1_again t3)
  set(_threads 1)
  if(_case STREQUAL "t3")
    set(_threads 3)
  endif()
  dssim_add_cli_test(golden_write_${_case} ARGS golden ${_run} --threads ${_threads}
                     --out ${_g}/g_${_case}.h5 MATCH "wrote .*tensors \\(all\\)")
  set_tests_properties(cli:golden_write_${_case} PROPERTIES
    FIXTURES_REQUIRED golden_ckpt FIXTURES_SETUP golden_files)
endforeach()

# MTP speculative decoding: the MTP module's tensors and draft logits are recorded, and the
# file is byte-identical for any --threads; prompts may come from --tokens-file.
file(WRITE ${CMAKE_BINARY_DIR}/golden_regression_prompts.txt "1,2,3\n\n4, 5\n")
foreach(_threads 1 3)
  dssim_add_cli_test(golden_mtp_t${_threads} ARGS golden --checkpoint ${_ckpt}
                     --tokens-file ${CMAKE_BINARY_DIR}/golden_regression_prompts.txt
                     --max-new-tokens 5 --tensors layers --mtp --threads ${_threads}
                     --out ${_g}/g_mtp_t${_threads}.h5
                     MATCH "wrote .*logit rows.*mtp acceptance [0-9]+/[0-9]+")
  set_tests_properties(cli:golden_mtp_t${_threads} PROPERTIES
    FIXTURES_REQUIRED golden_ckpt FIXTURES_SETUP golden_files)
endforeach()
add_test(NAME golden:mtp_byte_identical_threads
  COMMAND ${CMAKE_COMMAND} -E compare_files ${_g}/g_mtp_t1.h5 ${_g}/g_mtp_t3.h5)
set_tests_properties(golden:mtp_byte_identical_threads PROPERTIES
  FIXTURES_REQUIRED golden_files LABELS regression)
dssim_add_cli_test(golden_mtp_bad_tensors EXIT 2 ARGS golden --checkpoint ${_ckpt} --tokens 1
                   --mtp --tensors none --out ${_g}/bad_mtp.h5 MATCH "--tensors"
                   NO_FILE ${_g}/bad_mtp.h5)
dssim_add_cli_test(golden_no_tokens EXIT 2 ARGS golden --checkpoint ${_ckpt} --out ${_g}/bad3.h5
                   MATCH "error: --tokens: give at least one sequence" NO_FILE ${_g}/bad3.h5)
set_tests_properties(cli:golden_mtp_bad_tensors cli:golden_no_tokens PROPERTIES
  FIXTURES_REQUIRED golden_ckpt)

# Same inputs twice, and --threads 1 vs 3: byte-identical files.
add_test(NAME golden:byte_identical_rerun
  COMMAND ${CMAKE_COMMAND} -E compare_files ${_g}/g_t1.h5 ${_g}/g_t1_again.h5)
add_test(NAME golden:byte_identical_threads
  COMMAND ${CMAKE_COMMAND} -E compare_files ${_g}/g_t1.h5 ${_g}/g_t3.h5)
set_tests_properties(golden:byte_identical_rerun golden:byte_identical_threads PROPERTIES
  FIXTURES_REQUIRED golden_files LABELS regression)

# Golden against itself: exit 0, every tensor identical.
dssim_add_cli_test(check_self ARGS check --golden ${_g}/g_t1.h5 --candidate ${_g}/g_t3.h5
                   MATCH "first divergence: none.*result: PASS" NO_MATCH "FAIL|first difference")
dssim_add_cli_test(check_self_json ARGS check --golden ${_g}/g_t1.h5 --candidate ${_g}/g_t1.h5
                   --profile bf16-backend --json MATCH "\"max_abs_error\": 0.0" NO_MATCH "\"pass\": false")
# Bad inputs: exit 2 with one line naming the problem, never a crash.
dssim_add_cli_test(check_missing_golden EXIT 2 ARGS check --golden ${_g}/nope.h5
                   --candidate ${_g}/g_t1.h5 MATCH "nope.h5: file not found")
dssim_add_cli_test(check_missing_candidate EXIT 2 ARGS check --golden ${_g}/g_t1.h5
                   --candidate ${_g}/nope.safetensors MATCH "file not found")
dssim_add_cli_test(check_unknown_profile EXIT 2 ARGS check --golden ${_g}/g_t1.h5
                   --candidate ${_g}/g_t1.h5 --profile sloppy MATCH "available: .*bf16-backend")
dssim_add_cli_test(check_profile_and_rtol EXIT 2 ARGS check --golden ${_g}/g_t1.h5
                   --candidate ${_g}/g_t1.h5 --profile exact --rtol 0.1 MATCH "excludes")
dssim_add_cli_test(golden_bad_tensors EXIT 2 ARGS golden ${_run} --tensors some --out ${_g}/bad.h5
                   MATCH "--tensors" NO_FILE ${_g}/bad.h5)
dssim_add_cli_test(golden_bad_token EXIT 2 ARGS golden --checkpoint ${_ckpt} --tokens 1,999999
                   --out ${_g}/bad2.h5 NO_FILE ${_g}/bad2.h5)
set_tests_properties(cli:check_self cli:check_self_json cli:check_missing_golden
  cli:check_missing_candidate cli:check_unknown_profile cli:check_profile_and_rtol
  cli:golden_bad_tensors cli:golden_bad_token PROPERTIES FIXTURES_REQUIRED "golden_files;golden_ckpt")

# h5py: the layout as documented, plus candidate files for the checks below. Debian's h5py is
# in /usr/bin/python3 (a pyenv python3 earlier on PATH may lack it).
find_program(DSSIM_H5PY_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(DSSIM_H5PY_PYTHON)
  execute_process(COMMAND ${DSSIM_H5PY_PYTHON} -c "import h5py, numpy"
                  RESULT_VARIABLE _h5py_missing OUTPUT_QUIET ERROR_QUIET)
endif()
# tests/golden (added after this directory) reads the outcome instead of probing again.
if(DSSIM_H5PY_PYTHON AND NOT _h5py_missing)
  set_property(GLOBAL PROPERTY DSSIM_H5PY_USABLE ON)
  add_test(NAME golden:h5py_layout
    COMMAND ${DSSIM_H5PY_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/golden_layout.py ${_g}/g_t1.h5
            ${_g}/cand)
  set_tests_properties(golden:h5py_layout PROPERTIES LABELS golden
    FIXTURES_REQUIRED golden_files FIXTURES_SETUP golden_candidates
    PASS_REGULAR_EXPRESSION "candidates written")

  add_test(NAME golden:h5py_mtp_layout
    COMMAND ${DSSIM_H5PY_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/golden_mtp_layout.py
            ${_g}/g_mtp_t1.h5)
  set_tests_properties(golden:h5py_mtp_layout PROPERTIES LABELS golden
    FIXTURES_REQUIRED golden_files PASS_REGULAR_EXPRESSION "golden_mtp_layout: ok")

  dssim_add_cli_test(check_planted_corruption EXIT 1 ARGS check --golden ${_g}/g_t1.h5
                     --candidate ${_g}/cand/corrupt.h5 --profile bf16-backend
                     MATCH "first divergence: step0/layers.1.attn_residual \\(order [0-9]+\\): 1 of")
  dssim_add_cli_test(check_npz ARGS check --golden ${_g}/g_t1.h5 --candidate ${_g}/cand/layers.npz
                     MATCH "3 compared.*result: PASS")
  dssim_add_cli_test(check_npy_map ARGS check --golden ${_g}/g_t1.h5
                     --candidate ${_g}/cand/embed_candidate.npy --map ${_g}/cand/names.json
                     MATCH "step0/embed .*identical")
  dssim_add_cli_test(check_npy_unmapped EXIT 2 ARGS check --golden ${_g}/g_t1.h5
                     --candidate ${_g}/cand/embed_candidate.npy MATCH "not found in golden")
  dssim_add_cli_test(check_shape_mismatch EXIT 2 ARGS check --golden ${_g}/g_t1.h5
                     --candidate ${_g}/cand/wrong_shape.npz MATCH "shape \\[320, 5\\] does not match")
  dssim_add_cli_test(check_name_not_found EXIT 2 ARGS check --golden ${_g}/g_t1.h5
                     --candidate ${_g}/cand/unknown.npz MATCH "no_such_tensor.*not found in golden")
  dssim_add_cli_test(check_truncated_golden EXIT 2 ARGS check --golden ${_g}/cand/truncated.h5
                     --candidate ${_g}/g_t1.h5 MATCH "truncated")
  dssim_add_cli_test(check_truncated_candidate EXIT 2 ARGS check --golden ${_g}/g_t1.h5
                     --candidate ${_g}/cand/truncated.h5 MATCH "truncated")
  set_tests_properties(cli:check_planted_corruption cli:check_npz cli:check_npy_map
    cli:check_npy_unmapped cli:check_shape_mismatch cli:check_name_not_found
    cli:check_truncated_golden cli:check_truncated_candidate PROPERTIES
    FIXTURES_REQUIRED "golden_files;golden_candidates")
else()
  message(STATUS "golden: python3 with h5py/numpy not found; h5py layout and candidate-format "
                 "checks skipped (scripts/setup.sh --test installs them)")
endif()
