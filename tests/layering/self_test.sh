#!/usr/bin/env bash
# Plants one violation of each layering rule in a scratch tree and checks that
# check_layering.sh reports it (exit 1), that the clean tree passes (exit 0), and that a line
# marked `layering-ok:` is exempt. Usage: self_test.sh CHECK_SCRIPT
set -uo pipefail
check=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{sim,traces,validation,sweep,devices,apps,reference/runtime/src,reference/golden}
mkdir -p "$tmp"/{reference/kernels,numerics,base,models,tokenizer}
echo 'int x = 0;' >"$tmp/sim/clean.cpp"

status=0
expect() {  # expect RULE EXIT
    bash "$check" "$tmp" "$1" >/dev/null
    local rc=$?
    if [[ $rc -ne $2 ]]; then
        echo "rule $1: exit $rc, expected $2"
        status=1
    fi
}
for rule in model-shapes name-dispatch includes; do expect $rule 0; done

echo 'int w = config.hidden_size;' >"$tmp/sim/shape.cpp"
expect model-shapes 1
echo 'int w = config.hidden_size;  // layering-ok: planted exemption' >"$tmp/sim/shape.cpp"
expect model-shapes 0
echo 'size_t d = c->qk_head_dim();' >"$tmp/traces/shape.cpp"
expect model-shapes 1
rm "$tmp/traces/shape.cpp"

echo 'if (ends_with(op.name, ".core")) {}' >"$tmp/sim/names.cpp"
expect name-dispatch 1
echo 'auto v = g.find(pre + ".wkv_b.k");' >"$tmp/sim/names.cpp"
expect name-dispatch 1
rm "$tmp/sim/names.cpp"
expect name-dispatch 0

echo '#include "dssim/sim/plan.h"' >"$tmp/models/up.h"
expect includes 1
rm "$tmp/models/up.h"
echo '#include "dssim/models/op_graph.h"' >"$tmp/numerics/up.h"
expect includes 1
rm "$tmp/numerics/up.h"
echo '#include <systemc>' >"$tmp/reference/runtime/src/up.cpp"
expect includes 1
rm "$tmp/reference/runtime/src/up.cpp"
echo '#include "dssim/models/model_config.h"' >"$tmp/tokenizer/up.h"
expect includes 1
rm "$tmp/tokenizer/up.h"
expect includes 0

if [[ $status -eq 0 ]]; then echo "layering self-test: every planted violation found"; fi
exit $status
