# Text in and out (label: regression): `dssim tokenize` on the committed synthetic tokenizer,
# and `run`/`golden` with --prompt, --prompts-file and --chat on the tiny synthetic checkpoints
# of run.cmake and golden.cmake (their fixtures). Bad input exits 2 with one line naming the
# file and line. Also run as a script (cmake -P text.cmake) by text:prompt_equals_tokens.
if(CMAKE_SCRIPT_MODE_FILE)
  # -DDSSIM_EXE=... -DCKPT=...: `run --prompt X` computes what `run --tokens $(tokenize X)` does.
  execute_process(COMMAND ${DSSIM_EXE} tokenize --tokenizer ${CKPT} "Hello, world!"
                  OUTPUT_VARIABLE _ids OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "tokenize failed: ${_rc}")
  endif()
  execute_process(COMMAND ${DSSIM_EXE} run --checkpoint ${CKPT} --tokens ${_ids} --max-new-tokens 3
                  OUTPUT_VARIABLE _a RESULT_VARIABLE _rc1 ERROR_QUIET)
  execute_process(COMMAND ${DSSIM_EXE} run --checkpoint ${CKPT} --prompt "Hello, world!"
                  --max-new-tokens 3 OUTPUT_VARIABLE _b RESULT_VARIABLE _rc2 ERROR_QUIET)
  string(REGEX REPLACE "text 0: [^\n]*\n" "" _b_ids "${_b}")
  if(NOT _rc1 EQUAL 0 OR NOT _rc2 EQUAL 0 OR NOT _a STREQUAL _b_ids)
    message(FATAL_ERROR "--tokens ${_ids}:\n${_a}\n--prompt:\n${_b}")
  endif()
  message(STATUS "ok: same tokens and logits digest")
  return()
endif()

set(_tok tests/data/tokenizer)
set(_tiny_tok ${_tok}/tiny)

# dssim tokenize.
dssim_add_cli_test(tokenize_text ARGS tokenize --tokenizer ${_tiny_tok} "Hello, world!"
  MATCH "^0,504,47,977,36\n$")
dssim_add_cli_test(tokenize_json ARGS tokenize --tokenizer ${_tiny_tok} --json --no-bos "Hello, world!"
  MATCH "^{\"ids\":\\[504,47,977,36\\]}")
dssim_add_cli_test(tokenize_decode ARGS tokenize --tokenizer ${_tiny_tok} --decode 0,504,47,977,36
  MATCH "^<｜begin▁of▁sentence｜>Hello, world!\n$")
dssim_add_cli_test(tokenize_decode_json ARGS tokenize --tokenizer ${_tiny_tok} --decode 504,47 --json
  MATCH "^{\"text\":\"Hello,\"}")
dssim_add_cli_test(tokenize_chat ARGS tokenize --tokenizer ${_tiny_tok} --chat "Hi"
  MATCH "^0,1020,[0-9,]+,1021\n$")
dssim_add_cli_test(tokenize_invalid_utf8 ARGS tokenize --tokenizer ${_tiny_tok}
  --file ${_tok}/invalid_utf8.txt
  MATCH "invalid_utf8.txt: invalid UTF-8 at byte 3 replaced by U[+]FFFD")
dssim_add_cli_test(tokenize_missing_tokenizer EXIT 2 ARGS tokenize --tokenizer ${_tok}/nowhere x
  MATCH "error: ${_tok}/nowhere/tokenizer.json: missing")
dssim_add_cli_test(tokenize_malformed_tokenizer EXIT 2 ARGS tokenize --tokenizer ${_tok}/bad/malformed x
  MATCH "error: ${_tok}/bad/malformed/tokenizer.json: .*malformed JSON")
dssim_add_cli_test(tokenize_unsupported_tokenizer EXIT 2
  ARGS tokenize --tokenizer ${_tok}/bad/unsupported x
  MATCH "tokenizer.json: pre_tokenizer.pretokenizers.3..type: unsupported pre-tokenizer 'Metaspace'")
dssim_add_cli_test(tokenize_decode_unknown_id EXIT 2 ARGS tokenize --tokenizer ${_tiny_tok} --decode 5,1024
  MATCH "error: --decode: id 1024 [(]position 1[)] is not a token")
dssim_add_cli_test(tokenize_no_input EXIT 2 ARGS tokenize --tokenizer ${_tiny_tok}
  MATCH "error: tokenize: give exactly one of TEXT, --file F or --decode IDS")

# run with text prompts (the checkpoint of run.cmake carries the synthetic tokenizer).
set(_rt ${CMAKE_BINARY_DIR}/run_regression/tiny)
macro(_text_run name)
  dssim_add_cli_test(${name} ${ARGN})
  set_tests_properties(cli:${name} PROPERTIES FIXTURES_REQUIRED run_ckpt)
endmacro()
_text_run(run_prompt ARGS run --checkpoint ${_rt} --prompt "Hello, world!" --prompt "你好"
  --max-new-tokens 3
  MATCH "sequence 0: [0-9]+ [0-9]+ [0-9]+\ntext 0: \"[^\n]*\"\nsequence 1: [0-9 ]+\ntext 1: \"")
_text_run(run_prompt_json ARGS run --checkpoint ${_rt} --prompt "Hi" --chat --max-new-tokens 2 --json
  MATCH "\"prompt_texts\": .\n *\"<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>\"\n *.,\n *\"texts\"")
_text_run(run_prompts_file ARGS run --checkpoint ${_rt} --prompts-file ${_tok}/prompts.jsonl
  --tokens 1,2 --max-new-tokens 2
  MATCH "sequence 3: [0-9 ]+\ntext 3: \"")
_text_run(run_prompts_file_no_prompt EXIT 2 ARGS run --checkpoint ${_rt}
  --prompts-file ${_tok}/prompts_no_prompt.jsonl
  MATCH "error: ${_tok}/prompts_no_prompt.jsonl: line 2: no prompt")
_text_run(run_prompts_file_malformed EXIT 2 ARGS run --checkpoint ${_rt}
  --prompts-file ${_tok}/prompts_malformed.jsonl
  MATCH "error: ${_tok}/prompts_malformed.jsonl: line 3: malformed JSON")
_text_run(run_prompt_too_long EXIT 2 ARGS run --checkpoint ${_rt}
  --prompt "a prompt of more than eight tokens, surely" --max-seq-len 8
  MATCH "error: --prompt 1: the prompt is [0-9]+ tokens, longer than --max-seq-len 8")
_text_run(run_prompt_missing_tokenizer EXIT 2 ARGS run --checkpoint ${_rt} --prompt "x"
  --tokenizer ${_tok}/nowhere MATCH "error: ${_tok}/nowhere/tokenizer.json: missing")
_text_run(run_chat_bad_role EXIT 2 ARGS run --checkpoint ${_rt}
  --prompts-file ${_tok}/bad_role.jsonl
  MATCH "error: ${_tok}/bad_role.jsonl: line 1: messages: .1..role: unsupported 'tool'")
add_test(NAME text:prompt_equals_tokens
  COMMAND ${CMAKE_COMMAND} -DDSSIM_EXE=$<TARGET_FILE:dssim> -DCKPT=${_rt}
    -P ${CMAKE_CURRENT_LIST_DIR}/text.cmake
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(text:prompt_equals_tokens PROPERTIES LABELS regression
  FIXTURES_REQUIRED run_ckpt)

# golden with text prompts: /prompt_texts and /generated_texts, byte-identical on rerun.
set(_g ${CMAKE_BINARY_DIR}/golden_regression)
foreach(_case a b)
  dssim_add_cli_test(golden_text_${_case} ARGS golden --checkpoint ${_g}/tiny
    --prompts-file ${_tok}/prompts.jsonl --prompt "Hi" --chat --max-new-tokens 3 --tensors logits
    --out ${_g}/text_${_case}.h5 MATCH "wrote .*text 3: \"")
  set_tests_properties(cli:golden_text_${_case} PROPERTIES
    FIXTURES_REQUIRED golden_ckpt FIXTURES_SETUP golden_text_files)
endforeach()
add_test(NAME golden:text_byte_identical_rerun
  COMMAND ${CMAKE_COMMAND} -E compare_files ${_g}/text_a.h5 ${_g}/text_b.h5)
set_tests_properties(golden:text_byte_identical_rerun PROPERTIES
  FIXTURES_REQUIRED golden_text_files LABELS regression)
dssim_add_cli_test(golden_text_too_long EXIT 2 ARGS golden --checkpoint ${_g}/tiny
  --prompts-file ${_tok}/prompts.jsonl --max-seq-len 6 --out ${_g}/text_bad.h5
  MATCH "error: ${_tok}/prompts.jsonl: line 2: the prompt is 11 tokens, longer than --max-seq-len 6"
  NO_FILE ${_g}/text_bad.h5)
set_tests_properties(cli:golden_text_too_long PROPERTIES FIXTURES_REQUIRED golden_ckpt)
get_property(_h5py GLOBAL PROPERTY DSSIM_H5PY_USABLE)
if(_h5py)
  add_test(NAME golden:h5py_text_layout
    COMMAND ${DSSIM_H5PY_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/golden_text_layout.py
            ${_g}/text_a.h5)
  set_tests_properties(golden:h5py_text_layout PROPERTIES LABELS golden
    FIXTURES_REQUIRED golden_text_files PASS_REGULAR_EXPRESSION "golden_text_layout: ok")
endif()
