# `dssim checkpoint`: malformed safetensors inputs exit 2 naming the file, tensor and problem;
# a well-formed checkpoint that disagrees with its config exits 1. The corpus is produced by
# tests/data/safetensors/make_corpus.py (one defect per case).
set(_bad tests/data/safetensors/bad)
foreach(case_match
    "short_file.safetensors|short_file.safetensors: header: file is 3 bytes, too short"
    "header_over_cap.safetensors|header length 200000000 exceeds the 100000000-byte limit"
    "header_past_eof.safetensors|header length 4096 exceeds the 62 bytes after the length field"
    "bad_json.safetensors|bad_json.safetensors: header: malformed JSON"
    "not_object.safetensors|header does not start with"
    "unknown_dtype.safetensors|tensor 'a': unknown dtype \"F128\""
    "offsets_out_of_range.safetensors|tensor 'a': data_offsets .0, 16\\) out of range"
    "begin_after_end.safetensors|tensor 'a': data_offsets begin 8 > end 4"
    "overlap.safetensors|tensor 'b': data_offsets .4, 12\\) overlap tensor 'a'"
    "gap.safetensors|tensor 'b': gap of 4 unused bytes"
    "trailing_bytes.safetensors|4 trailing bytes after the last tensor"
    "shape_mismatch.safetensors|tensor 'a': shape x dtype size = 12 bytes but data_offsets span 8"
    "shape_overflow.safetensors|tensor 'a': shape product overflows 64 bits"
    "negative_dim.safetensors|tensor 'a': shape entries must be non-negative"
    "missing_dtype.safetensors|tensor 'a': missing or non-string \"dtype\""
    "duplicate_key.safetensors|duplicate key 'a'"
    "metadata_not_string.safetensors|__metadata__.format: must be a string"
    "deep_nesting.safetensors|nested deeper than 32 levels"
    "missing_shard|weight_map.'y'.: shard 'model-00002-of-00002.safetensors' does not exist"
    "index_names_absent_tensor|weight_map.'y'.: tensor is not in shard"
    "unlisted_tensor|tensor 'x': not listed in model.safetensors.index.json"
    "wrong_total_size|metadata.total_size: 9 does not match the tensor bytes in the shards \\(8\\)"
    "index_bad_json|model.safetensors.index.json: \\(root\\): malformed JSON"
    "index_path_escape|must be a plain file name in the directory"
    "bad_shard|model-00001-of-00001.safetensors: tensor 'x': shape x dtype size = 12 bytes"
    "empty_dir|no model.safetensors.index.json or model.safetensors")
  string(FIND "${case_match}" "|" _bar)
  string(SUBSTRING "${case_match}" 0 ${_bar} _case)
  math(EXPR _rest "${_bar} + 1")
  string(SUBSTRING "${case_match}" ${_rest} -1 _match)
  string(REPLACE "." "_" _test "${_case}")
  dssim_add_cli_test(checkpoint_bad_${_test} EXIT 2 MATCH "${_match}"
    ARGS checkpoint inspect ${_bad}/${_case})
endforeach()

dssim_add_cli_test(checkpoint_inspect_mismatch EXIT 1
  MATCH "mismatch: model.norm.weight: expected BF16 .192., found F32 .192."
  ARGS checkpoint inspect tests/data/safetensors/mismatch)
dssim_add_cli_test(checkpoint_inspect_mismatch_json EXIT 1
  MATCH "\"ok\": false"
  ARGS checkpoint inspect tests/data/safetensors/mismatch --json)
dssim_add_cli_test(checkpoint_inspect_missing_dir EXIT 2 MATCH "no such checkpoint"
  ARGS checkpoint inspect tests/data/safetensors/does_not_exist)
dssim_add_cli_test(checkpoint_synth_unknown_model EXIT 2
  MATCH "unknown model 'deepseek-v9'.*deepseek-tiny"
  ARGS checkpoint synth --model deepseek-v9 --seed 1 --out build/checkpoint_never)
dssim_add_cli_test(checkpoint_synth_bad_layers EXIT 2 MATCH "--layers: range 3-9 is not within"
  NO_FILE build/checkpoint_bad_layers/config.json
  ARGS checkpoint synth --model deepseek-tiny --seed 1 --layers 3-9
       --out build/checkpoint_bad_layers)
dssim_add_cli_test(checkpoint_synth_bad_dtype EXIT 2 MATCH "--dtype: expected fp8 or bf16"
  ARGS checkpoint synth --model deepseek-tiny --seed 1 --dtype fp4 --out build/checkpoint_never)
dssim_add_cli_test(checkpoint_synth_bad_shard_size EXIT 2 MATCH "--shard-size"
  ARGS checkpoint synth --model deepseek-tiny --seed 1 --shard-size 12XB --out build/checkpoint_never)
dssim_add_cli_test(checkpoint_synth_help MATCH "--layers.*--shard-size.*--threads"
  ARGS checkpoint synth --help)
dssim_add_cli_test(checkpoint_inspect_help MATCH "Exit 0: consistent"
  ARGS checkpoint inspect --help)
