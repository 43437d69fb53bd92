# A new user's walk (issue 21): mistyped names get the nearest valid one, out-of-range values
# are refused with one line naming the option (exit 2), graph and simulate agree on --batch,
# unreadable inputs exit 2, gzip traces read. The sweep's plots and result files are checked by
# sweep_plots_readable (sweep.cmake).
set(_td tests/data/traces)
set(_ux ${CMAKE_BINARY_DIR}/ux-out)

# Unknown names: the nearest valid one.
dssim_add_cli_test(ux_unknown_command_suggests EXIT 2 ARGS simulat
  MATCH "unknown command 'simulat' for dssim \\(did you mean simulate\\?\\)")
dssim_add_cli_test(ux_unknown_subcommand_suggests EXIT 2 ARGS checkpoint synt
  MATCH "unknown command 'synt' for dssim checkpoint \\(did you mean synth\\?\\)")
dssim_add_cli_test(ux_unknown_option_suggests EXIT 2
  ARGS numerics convert --to bf16 1.0 --overflw satfinite
  MATCH "dssim numerics convert: unknown option --overflw \\(did you mean --overflow\\?\\)"
  NO_MATCH "not a number")
dssim_add_cli_test(ux_unknown_option_simulate EXIT 2 ARGS simulate --bacth 4
  MATCH "unknown option --bacth \\(did you mean --batch\\?\\)")
dssim_add_cli_test(ux_unknown_option_far EXIT 2 ARGS sweep --frobnicate 1
  MATCH "dssim sweep: unknown option --frobnicate; `dssim sweep --help` lists the options")

# Values accepted silently before.
dssim_add_cli_test(ux_check_negative_rtol EXIT 2
  ARGS check --golden a.h5 --candidate b.h5 --rtol -1 MATCH "--rtol: must be >= 0 \\(got -1\\)")
dssim_add_cli_test(ux_check_negative_atol EXIT 2
  ARGS check --golden a.h5 --candidate b.h5 --atol -0.5 MATCH "--atol: must be >= 0")
dssim_add_cli_test(ux_sweep_negative_threads EXIT 2
  ARGS sweep --study chips-head-to-head --threads -2 --out ${_ux}/sweep-threads
  MATCH "--threads: must be >= 0 \\(got -2\\)" NO_FILE ${_ux}/sweep-threads)
dssim_add_cli_test(ux_synth_negative_seed EXIT 2
  ARGS checkpoint synth --model deepseek-tiny --seed -1 --out ${_ux}/synth-seed
  MATCH "--seed: expected an unsigned integer" NO_FILE ${_ux}/synth-seed)
dssim_add_cli_test(ux_mtp_acceptance_needs_mtp EXIT 2
  ARGS simulate --model deepseek-v3 --device h800 --devices 32 --ep 32 --mtp-acceptance 0.7
  MATCH "--mtp-acceptance requires --mtp")
dssim_add_cli_test(ux_mtp_acceptance_range EXIT 2
  ARGS simulate --model deepseek-v3 --device h800 --devices 32 --ep 32 --mtp --mtp-acceptance 1.5
  MATCH "--mtp-acceptance")

# One meaning per option: graph --batch counts one DP rank's sequences, as simulate --batch
# does; the step's total is --global-batch (graph's old --batch); --input-len names the prompt
# length in both (--seq stays as graph's alias).
dssim_add_cli_test(ux_graph_batch_per_rank
  ARGS graph --model deepseek-v3 --phase decode --batch 128 --ep 144 --devices 144
       --redundant-experts 32 --json
  MATCH "\"batch\": 18432,.*\"batch_per_dp_rank\": 128")
dssim_add_cli_test(ux_graph_global_batch
  ARGS graph --model deepseek-v3 --phase decode --global-batch 18432 --ep 144
       --devices 144 --redundant-experts 32
  MATCH "batch 18432 \\(over 144 DP ranks\\)")
dssim_add_cli_test(ux_graph_input_len
  ARGS graph --model deepseek-tiny --phase prefill --input-len 8 MATCH "input-len 8 ")
dssim_add_cli_test(ux_graph_seq_alias
  ARGS graph --model deepseek-tiny --phase prefill --seq 8 MATCH "input-len 8 ")
dssim_add_cli_test(ux_graph_batch_exclusive EXIT 2
  ARGS graph --model deepseek-tiny --batch 2 --global-batch 4 MATCH "excludes")

# Inputs that cannot be read exit 2 with one line naming them; gzip traces read like JSON.
dssim_add_cli_test(ux_replay_directory EXIT 2
  ARGS replay --trace ${_td} --from h800 --to h100 --out ${_ux}/replay-dir
  MATCH "tests/data/traces: is a directory, not a file" NO_MATCH "internal error"
  NO_FILE ${_ux}/replay-dir/report.md)
dssim_add_cli_test(ux_replay_missing EXIT 2
  ARGS replay --trace ${_td}/no-such.json --from h800 --to h100 --out ${_ux}/replay-missing
  MATCH "no-such.json: no such file")
dssim_add_cli_test(ux_replay_gzip
  ARGS replay --trace ${_td}/small_kineto.json.gz --from h800 --to h800 --out ${_ux}/replay-gz
  MATCH "1\\.485 ms \\(h800 \\(recorded\\)\\) -> 1\\.485 ms \\(h800 \\(replayed\\)\\), \\+0\\.00%")
dssim_add_cli_test(ux_replay_gzip_truncated EXIT 2
  ARGS replay --trace ${_td}/bad_truncated.json.gz --from h800 --to h100 --out ${_ux}/replay-gzt
  MATCH "bad_truncated.json.gz: cannot read: unexpected end of file"
  NO_FILE ${_ux}/replay-gzt/report.md)
dssim_add_cli_test(ux_replay_diff_directory EXIT 2
  ARGS replay --diff ${_td} ${_td}/small_kineto.json --out ${_ux}/replay-diff-dir
  MATCH "is a directory, not a file")

# Citations name files inside the repository (docs/sources), never ../shared.
add_test(NAME sources_in_repo
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/sources_check.sh $<TARGET_FILE:dssim>
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(sources_in_repo PROPERTIES LABELS regression)

# Progress on stderr (DSSIM_PROGRESS=1 stands in for a terminal): run and golden bars reach
# their end, synth counts bytes in MB/GB, a full-mode simulate says it is working and for how
# long. With DSSIM_PROGRESS=0 nothing is drawn.
set(_uxck ${CMAKE_BINARY_DIR}/run_regression/tiny)
function(_ux_progress_test name regex)  # a function: a macro would unescape the regex
  add_test(NAME ux:${name} COMMAND ${CMAKE_COMMAND} -E env ${ARGN}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(ux:${name} PROPERTIES LABELS regression PASS_REGULAR_EXPRESSION "${regex}")
endfunction()
_ux_progress_test(progress_run "run \\[#+\\] 4/4 100\\.0%"
  DSSIM_PROGRESS=1 $<TARGET_FILE:dssim> run --checkpoint ${_uxck} --tokens 1,2,3 --max-new-tokens 4)
_ux_progress_test(progress_golden "golden \\[#+\\] 4/4 100\\.0%"
  DSSIM_PROGRESS=1 $<TARGET_FILE:dssim> golden --checkpoint ${_uxck} --tokens 1,2,3
  --max-new-tokens 4 --out ${_ux}/progress.h5)
_ux_progress_test(progress_synth "synth deepseek-tiny \\[#+\\] 10\\.38 MB of 10\\.38 MB 100\\.0%"
  DSSIM_PROGRESS=1 $<TARGET_FILE:dssim> checkpoint synth --model deepseek-tiny --seed 3
  --out ${_ux}/progress-synth)
_ux_progress_test(progress_simulate_full "simulate: full mode, 16 devices \\.\\.\\. done in [0-9.]+ s"
  DSSIM_PROGRESS=1 $<TARGET_FILE:dssim> simulate --model deepseek-v3 --device h800 --devices 16
  --ep 16 --batch 4 --mode full)
_ux_progress_test(progress_off "^sequence 0: [0-9 ]+\nlogits_sha256 [0-9a-f]+ +\\([0-9]+ steps, [0-9]+ rows\\)\ndssim run: open"
  DSSIM_PROGRESS=0 $<TARGET_FILE:dssim> run --checkpoint ${_uxck} --tokens 1,2,3 --max-new-tokens 4)
set_tests_properties(ux:progress_run ux:progress_golden ux:progress_off PROPERTIES
  FIXTURES_REQUIRED run_ckpt)

# Full-mode traces: gzip output that replay reads back, --trace-devices, byte-identical
# reruns; the replay HTML timeline's time axis and hover details.
add_test(NAME ux_trace_output
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/trace_output_check.sh $<TARGET_FILE:dssim>
          ${CMAKE_BINARY_DIR}/ux-out/trace
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(ux_trace_output PROPERTIES LABELS regression TIMEOUT 300)
