#!/usr/bin/env bash
# Layering rules that the compiler cannot see (docs/architecture.md, "One model description").
# Usage: check_layering.sh SOURCE_DIR RULE, RULE one of:
#   model-shapes   no code outside models/ reads a ModelConfig shape field (hidden_size,
#                  kv_lora_rank, n_routed_experts, ...) to compute shapes: models/parallel.h and
#                  the op graph carry every shape. Exempt: models/ itself, the reference
#                  runtime's weight loader, tests, benchmarks and fuzzers (they build inputs),
#                  and a line that says why with a `layering-ok:` comment.
#   name-dispatch  no interpreter (sim, traces, validation, sweep, reference runtime) chooses
#                  what to do from an op's name (suffixes such as ".core", "_residual",
#                  ".wkv_b.k"): op kinds and roles say it.
#   includes       the layers read base <- numerics <- {models, reference/kernels}: numerics
#                  includes no models, reference, devices or sim header; models includes no
#                  reference, devices, sim, traces or validation header; reference never
#                  includes SystemC or sim; devices never includes models' runtime parts;
#                  tokenizer includes base only.
# Prints every offending line as file:line: text and exits 1 if there is any.
set -uo pipefail
shopt -s lastpipe  # `report` runs in the current shell, so `fail` sticks
src=$1
rule=$2
cd "$src" || exit 2

fail=0
report() {  # report MESSAGE < matches
    local out
    out=$(grep -v 'layering-ok:' || true)
    if [[ -n "$out" ]]; then
        echo "$1"
        echo "$out"
        fail=1
    fi
}

case "$rule" in
model-shapes)
    fields='hidden_size|kv_lora_rank|q_lora_rank|n_routed_experts|num_experts_per_tok'
    fields+='|qk_rope_head_dim|qk_nope_head_dim|moe_intermediate_size|intermediate_size'
    fields+='|vocab_size|n_shared_experts|num_attention_heads|n_group|topk_group'
    fields+='|num_hidden_layers|first_k_dense_replace|num_nextn_predict_layers'
    # Member access of a model config field, or the derived per-head width.
    pattern="(\.|->)($fields)\b|\bqk_head_dim\(\)"
    dirs=(sim traces validation sweep devices apps reference/runtime reference/golden
          reference/kernels numerics base)
    grep -rnE "$pattern" --include='*.cpp' --include='*.h' "${dirs[@]}" |
        grep -v '^reference/runtime/src/weights.cpp:' |
        report "model shape fields read outside models/ (ask models/parallel.h or the op graph):"
    ;;
name-dispatch)
    suffixes='\.core|_residual|\.wkv_b|\.kv_norm|\.rope_k|\.rope_q|\.weighted_sum|\.dispatch'
    suffixes+='|\.combine|\.experts\.w[123]|\.gate\.|\.allreduce|\.allgather|\.grad_input'
    suffixes+='|\.grad_weight'
    dirs=(sim traces validation sweep reference/runtime)
    {
        grep -rnE "ends_with\(|\.name\.(substr|rfind|find)\(" --include='*.cpp' --include='*.h' \
            sim validation sweep reference/runtime
        grep -rnE "\"($suffixes)[^\"]*\"" --include='*.cpp' --include='*.h' "${dirs[@]}"
    } | report "interpreters dispatching on op names (use OpKind / OpRole):"
    ;;
includes)
    grep -rnE '#include "dssim/(models|reference|kernels|golden|devices|sim|traces|validation)' \
        numerics | report "numerics/ must not include higher layers:"
    grep -rnE '#include "dssim/(reference|kernels|golden|devices|sim|traces|validation|sweep)' \
        models | report "models/ must not include reference, devices, sim or above:"
    grep -rnE '#include [<"](systemc|tlm)|#include "dssim/sim' reference |
        report "reference/ must not include SystemC or the simulator:"
    grep -rnE '#include "dssim/(reference|kernels|golden|sim|traces|validation)' devices |
        report "devices/ must not include the reference runtime or the simulator:"
    grep -rnE '#include "dssim/(numerics|models|reference|kernels|golden|devices|sim|traces|validation|sweep)' \
        tokenizer | report "tokenizer/ depends on base only:"
    ;;
*)
    echo "check_layering.sh: unknown rule '$rule' (model-shapes, name-dispatch, includes)" >&2
    exit 2
    ;;
esac
exit $fail
