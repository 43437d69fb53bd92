# dssim devices: listing, show, check and the schema errors (exit 2 naming file and field).
set(_dd tests/unit/devices/data)
dssim_add_cli_test(devices_list ARGS devices MATCH "h800 .*989 .*1979 .*3352")
dssim_add_cli_test(devices_list_fallback ARGS devices MATCH "ascend-910b .*-> int8")
dssim_add_cli_test(devices_json ARGS devices --json MATCH "\"name\": \"ascend-910c\"")
dssim_add_cli_test(devices_show ARGS devices --show h800
  MATCH "memory.bandwidth +3352 GB/s +primary +\\[ant\\]")
dssim_add_cli_test(devices_show_unknown_figure ARGS devices --show h800
  MATCH "power.tdp +unknown W +unknown")
dssim_add_cli_test(devices_show_system_name ARGS devices --show cloudmatrix-384 --json EXIT 2
  MATCH "unknown device 'cloudmatrix-384'")
dssim_add_cli_test(devices_show_910c_json ARGS devices --show ascend-910c --json
  MATCH "\"value\": \"two_tier\"")
dssim_add_cli_test(devices_unknown EXIT 2 ARGS devices --show h900
  MATCH "unknown device 'h900'.*ascend-910b.*h800")
dssim_add_cli_test(devices_systems ARGS devices --systems MATCH "cloudmatrix-384 +supernode +ascend-910c")
dssim_add_cli_test(devices_check_builtin ARGS devices --check configs/devices/h800.json MATCH "^ok:")
dssim_add_cli_test(devices_check_user ARGS devices --check ${_dd}/good_user_device.json
  MATCH "ok: .*'my-chip'")
dssim_add_cli_test(devices_check_unknown_field EXIT 2 ARGS devices --check ${_dd}/bad_unknown_field.json
  MATCH "bad_unknown_field.json: memory.bandwidth.speed: unknown field")
dssim_add_cli_test(devices_check_missing_unit EXIT 2 ARGS devices --check ${_dd}/bad_missing_unit.json
  MATCH "bad_missing_unit.json: memory.bandwidth.unit: missing unit")
dssim_add_cli_test(devices_check_wrong_unit EXIT 2 ARGS devices --check ${_dd}/bad_wrong_unit.json
  MATCH "bad_wrong_unit.json: memory.bandwidth.unit: unit \"TB/s\"")
dssim_add_cli_test(devices_check_negative_bandwidth EXIT 2
  ARGS devices --check ${_dd}/bad_negative_bandwidth.json
  MATCH "bad_negative_bandwidth.json: scale_up.bandwidth_per_direction.value: must be positive")
dssim_add_cli_test(devices_check_unknown_confidence EXIT 2
  ARGS devices --check ${_dd}/bad_unknown_confidence.json
  MATCH "bad_unknown_confidence.json: compute.peak_dense.bf16.confidence: unknown confidence 'probably'")
dssim_add_cli_test(devices_check_malformed EXIT 2 ARGS devices --check ${_dd}/bad_malformed.json
  MATCH "bad_malformed.json: malformed JSON")
dssim_add_cli_test(devices_check_missing_file EXIT 2 ARGS devices --check ${_dd}/no_such_file.json
  MATCH "no_such_file.json")
dssim_add_cli_test(devices_two_modes EXIT 2 ARGS devices --show h800 --systems MATCH "only one of")
