// `dssim graph`: builds the op graph of one step of a model (models/op_graph.h) and prints the
// model totals (parameters, activated parameters, KV cache, FLOPs per token, stored weight
// bytes) and the step's op count and per-kind cost breakdown; optionally every op (--ops) and
// a Graphviz file (--dot).
#include <cstdio>
#include <string>

#include "commands.h"
#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"

namespace dssim::cli {
namespace {

using namespace dssim::models;

struct GraphOptions {
    std::string model;
    std::string phase = "decode";
    int64_t batch = 1;          // sequences per DP rank, as in `dssim simulate --batch`
    int64_t global_batch = -1;  // -1: batch x dp (the step's total over all DP ranks)
    int64_t seq = -1;           // --input-len (alias --seq); -1: phase default
    int64_t context = -1;       // -1: phase default
    int64_t tp = 1;
    int64_t ep = 1;
    int64_t dp = -1;       // -1: devices / tp
    int64_t devices = -1;  // -1: tp * dp
    int64_t redundant = 0;
    bool mtp = false;
    std::string attention = "absorbed";
    std::string gemm = "bf16";
    bool json = false;
    std::string dot;
    bool ops = false;
};

// Defaults when not given: prefill/train 4096 new tokens per sequence (V3's pre-training
// length); decode 4096 cached tokens.
constexpr int64_t kDefaultLength = 4096;

StepSpec step_from(const GraphOptions& o) {
    StepSpec s;
    if (auto p = phase_from_name(o.phase)) {
        s.phase = *p;
    } else {
        throw_input_error("", "--phase",
                          "unknown phase '" + o.phase + "' (expected prefill, decode or train)");
    }
    if (o.attention == "absorbed") {
        s.attention = AttentionMode::Absorbed;
    } else if (o.attention == "naive") {
        s.attention = AttentionMode::Naive;
    } else {
        throw_input_error("", "--attention",
                          "unknown mode '" + o.attention + "' (expected absorbed or naive)");
    }
    if (o.gemm == "bf16") {
        s.gemm = GemmMode::Bf16;
    } else if (o.gemm == "fp8") {
        s.gemm = GemmMode::Fp8;
    } else {
        throw_input_error("", "--gemm", "unknown mode '" + o.gemm + "' (expected bf16 or fp8)");
    }
    s.seq = o.seq >= 0 ? o.seq : (s.phase == Phase::Decode ? 1 : kDefaultLength);
    s.context = o.context >= 0 ? o.context : (s.phase == Phase::Decode ? kDefaultLength : 0);
    s.mtp = o.mtp;
    s.plan.tp = o.tp;
    s.plan.ep = o.ep;
    s.plan.redundant_experts = o.redundant;
    if (o.tp < 1) throw_input_error("", "--tp", "must be >= 1");
    if (o.dp >= 0) {
        s.plan.dp = o.dp;
        s.plan.devices = o.devices >= 0 ? o.devices : o.tp * o.dp;
    } else if (o.devices >= 0) {
        if (o.devices % o.tp != 0) {
            throw_input_error("", "--devices",
                              std::to_string(o.tp) + " (--tp) does not divide " +
                                  std::to_string(o.devices) + " devices");
        }
        s.plan.devices = o.devices;
        s.plan.dp = o.devices / o.tp;
    } else {
        // No DP given: as many devices as the larger of TP and EP (DP attention + EP MoE).
        s.plan.devices = std::max(o.tp, o.ep);
        s.plan.dp = s.plan.devices / o.tp;
    }
    // --batch counts one DP rank's sequences, as `dssim simulate --batch` does; the op graph
    // holds the step's total.
    if (o.batch < 1) throw_input_error("", "--batch", "must be >= 1");
    s.batch = o.global_batch >= 0 ? o.global_batch : o.batch * std::max<int64_t>(1, s.plan.dp);
    if (o.global_batch == 0) throw_input_error("", "--global-batch", "must be >= 1");
    return s;
}

std::string human(double x) {
    char buf[64];
    const char* units[] = {"", "K", "M", "G", "T", "P", "E"};
    int u = 0;
    while (x >= 1000.0 && u < 6) {
        x /= 1000.0;
        ++u;
    }
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f" : "%.3f %s", x, units[u]);
    return buf;
}

void print_table(const OpGraph& g, const ModelTotals& m) {
    const StepSpec& s = g.step();
    std::printf(
        "model %s  phase %s  batch %lld (over %lld DP ranks)  input-len %lld  context %lld  mtp "
        "%s  attention %s\n",
        std::string(g.config().short_name()).c_str(), std::string(phase_name(s.phase)).c_str(),
        static_cast<long long>(s.batch), static_cast<long long>(s.plan.dp),
        static_cast<long long>(s.seq), static_cast<long long>(s.context), s.mtp ? "on" : "off",
        std::string(attention_mode_name(s.attention)).c_str());
    std::printf("plan tp %lld  ep %lld  dp %lld  devices %lld  redundant experts %lld\n\n",
                static_cast<long long>(s.plan.tp), static_cast<long long>(s.plan.ep),
                static_cast<long long>(s.plan.dp), static_cast<long long>(s.plan.devices),
                static_cast<long long>(s.plan.redundant_experts));
    auto row = [](const char* name, double v, const char* note) {
        std::printf("  %-34s %22.0f  %-10s %s\n", name, v, human(v).c_str(), note);
    };
    std::printf("model totals\n");
    row("params_total", m.params_total, "main model");
    row("params_total_with_mtp", m.params_total_with_mtp, "as stored in the HF checkpoint");
    row("params_activated_per_token", m.params_activated_per_token, "incl. embedding + head");
    row("params_activated_excl_embedding", m.params_activated_excl_embedding, "incl. head");
    row("kv_cache_bytes_per_token", m.kv_cache_bytes_per_token, "absorbed MLA latent, BF16");
    row("kv_cache_bytes_per_token_naive", m.kv_cache_bytes_per_token_naive, "full K/V, BF16");
    char note[96];
    std::snprintf(note, sizeof note, "forward, causal prefill of %lld tokens",
                  static_cast<long long>(m.flops_context_seq));
    row("flops_per_token", m.flops_per_token, note);
    row("weight_bytes", m.weight_bytes, "as stored (FP8 + scales + BF16/FP32)");
    row("weight_bytes_with_mtp", m.weight_bytes_with_mtp, "");

    const StepTotals t = step_totals(g);
    std::printf("\nstep graph: %lld ops, %lld edges, %lld tokens through the main model\n",
                static_cast<long long>(t.ops), static_cast<long long>(t.edges),
                static_cast<long long>(t.main_tokens));
    std::printf("  %-13s %6s %12s %12s %12s %12s %12s %12s\n", "kind", "count", "flops", "weight B",
                "act B", "kv B", "comm B", "dev flops");
    for (int k = 0; k < kOpKindCount; ++k) {
        const KindTotals& kt = t.by_kind[k];
        if (kt.count == 0) continue;
        std::printf("  %-13s %6lld %12s %12s %12s %12s %12s %12s\n",
                    std::string(op_kind_name(static_cast<OpKind>(k))).c_str(),
                    static_cast<long long>(kt.count), human(kt.cost.flops).c_str(),
                    human(kt.cost.weight_bytes).c_str(),
                    human(kt.cost.act_read_bytes + kt.cost.act_write_bytes).c_str(),
                    human(kt.cost.kv_read_bytes + kt.cost.kv_write_bytes).c_str(),
                    human(kt.cost.comm_bytes).c_str(), human(kt.per_device.flops).c_str());
    }
    std::printf("  %-13s %6lld %12s %12s %12s %12s %12s %12s\n", "total",
                static_cast<long long>(t.ops), human(t.cost.flops).c_str(),
                human(t.cost.weight_bytes).c_str(),
                human(t.cost.act_read_bytes + t.cost.act_write_bytes).c_str(),
                human(t.cost.kv_read_bytes + t.cost.kv_write_bytes).c_str(),
                human(t.cost.comm_bytes).c_str(), human(t.per_device.flops).c_str());
}

void print_ops(const OpGraph& g) {
    std::printf("\n%-44s %-12s %-15s %14s %14s %14s\n", "op", "kind", "pass", "flops", "bytes",
                "comm bytes");
    for (OpVertex v : g.topological_order()) {
        const Op& op = g.op(v);
        std::printf("%-44s %-12s %-15s %14s %14s %14s\n", op.name.c_str(),
                    std::string(op_kind_name(op.kind)).c_str(),
                    std::string(pass_name(op.pass)).c_str(), human(op.cost.flops).c_str(),
                    human(op.cost.bytes()).c_str(), human(op.cost.comm_bytes).c_str());
    }
}

void run_graph(const GraphOptions& o) {
    const StepSpec step = step_from(o);
    const ModelConfig config = resolve_model_config(o.model);
    const OpGraph graph = build_op_graph(config, step);
    const ModelTotals totals = model_totals(config);
    if (!o.dot.empty()) write_file_atomic(o.dot, op_graph_dot(graph));
    if (o.json) {
        OrderedJson j = graph_report_json(graph, totals);
        // step.batch is the step's total; the per-rank figure is what --batch takes.
        if (step.plan.dp > 0 && step.batch % step.plan.dp == 0)
            j["step"]["batch_per_dp_rank"] = step.batch / step.plan.dp;
        if (o.ops) {
            j["ops"] = OrderedJson::array();
            for (OpVertex v : graph.topological_order()) {
                j["ops"].push_back(op_json(config, graph.op(v)));
            }
        }
        std::printf("%s\n", j.dump(2).c_str());
        return;
    }
    print_table(graph, totals);
    if (o.ops) print_ops(graph);
}

}  // namespace

void add_graph_command(CLI::App& app) {
    auto opt = std::make_shared<GraphOptions>();
    CLI::App* cmd = app.add_subcommand(
        "graph",
        "Build the op graph of one step (prefill, decode or training) of a model under a "
        "parallel plan and print the model totals (parameters, activated parameters, KV cache "
        "per token, FLOPs per token, stored weight bytes) and the step's cost by op kind.");
    cmd->add_option("--model", opt->model,
                    "Model: a name in configs/models (deepseek-v3, deepseek-v2-lite, "
                    "deepseek-tiny, ...), a config.json or a checkpoint directory")
        ->required();
    cmd->add_option("--phase", opt->phase,
                    "prefill (S new tokens per sequence), decode (one new token per sequence "
                    "at context C) or train (forward + backward)")
        ->capture_default_str();
    auto* batch = cmd->add_option("--batch", opt->batch,
                                  "Sequences per DP rank (as `dssim simulate --batch`); the step "
                                  "holds batch x dp")
                      ->capture_default_str();
    cmd->add_option("--global-batch", opt->global_batch,
                    "Sequences in the step over all DP ranks (the meaning --batch had in graph "
                    "before it matched simulate)")
        ->excludes(batch);
    cmd->add_option("--input-len,--seq", opt->seq,
                    "New tokens per sequence for prefill/train (default 4096; decode: 1); "
                    "--seq is the old name");
    cmd->add_option("--context", opt->context,
                    "Tokens already in each sequence's KV cache (default: decode 4096, "
                    "prefill 0)");
    cmd->add_option("--tp", opt->tp, "Tensor-parallel degree (must divide the heads)")
        ->capture_default_str();
    cmd->add_option("--ep", opt->ep,
                    "Expert-parallel degree (must divide routed + redundant experts and devices)")
        ->capture_default_str();
    cmd->add_option("--dp", opt->dp, "Data-parallel degree of attention (default devices / tp)");
    cmd->add_option("--devices", opt->devices,
                    "Devices in the deployment; tp x dp must equal it (default max(tp, ep))");
    cmd->add_option("--redundant-experts", opt->redundant,
                    "Extra expert slots replicating the busiest experts (DeepSeek serving: 32)")
        ->capture_default_str();
    cmd->add_flag("--mtp", opt->mtp,
                  "Run the MTP module(s): decode verifies one draft token per module");
    cmd->add_option("--attention", opt->attention,
                    "MLA form: absorbed (latent cache; decode) or naive (full K/V)")
        ->capture_default_str();
    cmd->add_option("--gemm", opt->gemm,
                    "bf16 (FP8 weights dequantised, the demo default) or fp8 (act_quant + FP8 "
                    "GEMM: adds ActQuant ops)")
        ->capture_default_str();
    cmd->add_flag("--json", opt->json, "Print the report as JSON on stdout");
    cmd->add_option("--dot", opt->dot, "Write the DAG as Graphviz to FILE (atomically)");
    cmd->add_flag("--ops", opt->ops, "List every op (with --json: an \"ops\" array)");
    cmd->callback([opt] { run_graph(*opt); });
}

}  // namespace dssim::cli
