# CLI regression cases of `dssim numerics` (label: regression). Expected bits are the documented
# values of docs/numerics.md, "Formats"; each MATCH pins the exact code and decoded value.

# E4M3FN overflow policies: 500 saturates to 448 (0x7e) or becomes NaN (0x7f) like PyTorch.
dssim_add_cli_test(numerics_e4m3_500_satfinite
  ARGS numerics convert --to e4m3 500
  MATCH "500 +500 +0x1.f4p\\+8 +e4m3 +0x7e +448 +0x1.cp\\+8 +normal")
dssim_add_cli_test(numerics_e4m3_500_torch
  ARGS numerics convert --to e4m3 --overflow torch 500
  MATCH "e4m3 +0x7f +nan")
dssim_add_cli_test(numerics_e4m3_negative_torch
  ARGS numerics convert --to e4m3 --overflow torch -500
  MATCH "e4m3 +0xff +-nan")
# 464 is the midpoint between 448 and the NaN code: ties to even (448) under both policies.
dssim_add_cli_test(numerics_e4m3_464_torch_ties_down
  ARGS numerics convert --to e4m3 --overflow torch 464
  MATCH "e4m3 +0x7e +448 ")
dssim_add_cli_test(numerics_e4m3_values
  ARGS numerics convert --to e4m3 0.1 0x1p-9 -1e-3 -inf
  MATCH "0.1 +0.100000001 +0x1.99999ap-4 +e4m3 +0x1d +0.1015625 .*0x1p-9 +0.001953125 +0x1p-9 +e4m3 +0x01 +0.001953125 +0x1p-9 +subnormal.*e4m3 +0x81 +-0.001953125.*-inf +-inf +-inf +e4m3 +0xfe +-448")
# E5M2: the largest finite is odd (0x7b), so the midpoint 61440 ties up into overflow.
dssim_add_cli_test(numerics_e5m2_61440_torch
  ARGS numerics convert --to e5m2 --overflow torch 61440
  MATCH "e5m2 +0x7c +inf")
dssim_add_cli_test(numerics_e5m2_61440_satfinite
  ARGS numerics convert --to e5m2 61440
  MATCH "e5m2 +0x7b +57344 ")
dssim_add_cli_test(numerics_f16_overflow_torch
  ARGS numerics convert --to f16 --overflow torch 65520 65519
  MATCH "f16 +0x7c00 +inf .*f16 +0x7bff +65504 ")
dssim_add_cli_test(numerics_bf16_values
  ARGS numerics convert --to bf16 0.1 1e-40
  MATCH "bf16 +0x3dcd +0.100097656 .*bf16 +0x0001 +9.18354962e-41 +0x1p-133 +subnormal")
dssim_add_cli_test(numerics_ue8m0_rounds_up
  ARGS numerics convert --to ue8m0 0.3 1 0
  MATCH "ue8m0 +0x7e +0.5 .*ue8m0 +0x7f +1 .*ue8m0 +0xff +nan")
dssim_add_cli_test(numerics_i8_rne_saturate
  ARGS numerics convert --to int8 2.5 -128.5 200 nan
  MATCH "i8 +0x02 +2 .*i8 +0x80 +-128 .*i8 +0x7f +127 .*i8 +0x00 +0 ")
dssim_add_cli_test(numerics_to_all
  ARGS numerics convert --to-all 500
  MATCH "bf16 +0x43fa +500 .*f16 +0x5fd0 +500 .*e4m3 +0x7e +448 .*e5m2 +0x60 +512 .*ue8m0 +0x88 +512 .*i8 +0x7f +127 ")
dssim_add_cli_test(numerics_convert_json
  ARGS numerics convert --to e4m3 --overflow torch --json 500 448
  MATCH "\"overflow\": \"torch\".*\"bits\": \"0x7f\",[ \n]*\"value\": \"nan\".*\"bits\": \"0x7e\",[ \n]*\"value\": 448.0")
dssim_add_cli_test(numerics_decode
  ARGS numerics decode --from e4m3 0x7e 0x08 0x01 0x7f 0xff
  MATCH "0x7e +448 .*0x08 +0.015625 .*0x01 +0.001953125 +0x1p-9 +subnormal.*0x7f +nan .*0xff +-nan")
dssim_add_cli_test(numerics_decode_e5m2_json
  ARGS numerics decode --from e5m2 --json 0x7b 0x7c
  MATCH "\"value\": 57344.0.*\"value\": \"inf\"")

# Bad input: exit 2 with a one-line error naming the offending value.
dssim_add_cli_test(numerics_garbage_value EXIT 2
  ARGS numerics convert --to e4m3 1 abc
  MATCH "value 'abc': not a number" NO_MATCH "0x38")
dssim_add_cli_test(numerics_trailing_garbage EXIT 2
  ARGS numerics convert --to e4m3 1.5x
  MATCH "value '1.5x'")
dssim_add_cli_test(numerics_unknown_format EXIT 2
  ARGS numerics convert --to e4m4 1
  MATCH "unknown format 'e4m4'")
dssim_add_cli_test(numerics_unknown_overflow EXIT 2
  ARGS numerics convert --to e4m3 --overflow wrap 1
  MATCH "unknown policy 'wrap'")
dssim_add_cli_test(numerics_no_format EXIT 2
  ARGS numerics convert 1
  MATCH "--to")
dssim_add_cli_test(numerics_no_value EXIT 2
  ARGS numerics convert --to e4m3
  MATCH "no value")
dssim_add_cli_test(numerics_decode_too_wide EXIT 2
  ARGS numerics decode --from e4m3 0x100
  MATCH "bits '0x100': does not fit the 8 bits of e4m3")
dssim_add_cli_test(numerics_decode_garbage EXIT 2
  ARGS numerics decode --from bf16 0xzz
  MATCH "bits '0xzz'")
