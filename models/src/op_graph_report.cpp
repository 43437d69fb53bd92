// Totals of the op graph: model totals summed from built graphs, the same totals from
// closed-form per-layer formulas (an independent cross-check), step totals, the JSON report
// of `dssim graph` and the Graphviz export.
#include <boost/graph/graphviz.hpp>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "dssim/models/op_graph.h"

namespace dssim::models {

namespace {

// The prefill length that defines flops_per_token (DeepSeek-V3's pre-training sequence
// length); models with a shorter position limit use that limit.
constexpr int64_t kFlopsReferenceSeq = 4096;

int64_t flops_seq(const ModelConfig& c) {
    return std::min(kFlopsReferenceSeq, c.max_position_embeddings);
}

}  // namespace

ModelTotals model_totals(const ModelConfig& config) {
    ModelTotals t;
    const bool has_mtp = config.num_nextn_predict_layers > 0;
    // Parameters and the latent cache: an inference step with the MTP modules, so that every
    // stored tensor (including the MTP copies of embedding and head) is read by some op.
    StepSpec s;
    s.phase = Phase::Prefill;
    s.mtp = has_mtp;
    const OpGraph g = build_op_graph(config, s);
    std::set<std::string> seen;
    for (OpVertex v = 0; v < g.size(); ++v) {
        const Op& op = g.op(v);
        for (const WeightRef& w : op.weights) {
            if (!seen.insert(w.name).second) continue;
            const int64_t params = w.params();
            const int64_t bytes = w.stored_bytes(config);
            t.stored_elements_with_mtp += w.stored_elements(config);
            t.params_total_with_mtp += params;
            t.weight_bytes_with_mtp += bytes;
            if (w.mtp) {
                t.params_mtp += params;
                continue;
            }
            t.params_total += params;
            t.weight_bytes += bytes;
            if (w.name == "embed") t.params_embedding = params;
            // A token runs through k of the routed experts and everything else.
            t.params_activated_per_token +=
                w.experts > 0 ? params / w.experts * config.num_experts_per_tok : params;
        }
        if (op.kind == OpKind::MlaAttention) {
            t.kv_cache_bytes_per_token_with_mtp += op.attention.cache_bytes_per_token;
            if (op.layer < config.num_hidden_layers) {
                t.kv_cache_bytes_per_token += op.attention.cache_bytes_per_token;
            }
        }
    }
    s.attention = AttentionMode::Naive;
    s.mtp = false;
    const OpGraph naive = build_op_graph(config, s);
    for (OpVertex v = 0; v < naive.size(); ++v) {
        if (naive.op(v).kind == OpKind::MlaAttention) {
            t.kv_cache_bytes_per_token_naive += naive.op(v).attention.cache_bytes_per_token;
        }
    }
    // flops_per_token: one causal prefill of flops_seq tokens, logits at every position.
    s.seq = flops_seq(config);
    s.logits_all_positions = true;
    const OpGraph f = build_op_graph(config, s);
    double flops = 0;
    for (OpVertex v = 0; v < f.size(); ++v)
        flops += f.op(v).cost.flops;
    t.flops_context_seq = s.seq;
    t.flops_per_token = flops / static_cast<double>(s.seq);
    t.params_activated_excl_embedding = t.params_activated_per_token - t.params_embedding;
    return t;
}

ModelTotals closed_form_totals(const ModelConfig& c) {
    ModelTotals t;
    const int64_t hd = c.hidden_size, nh = c.num_attention_heads, v = c.vocab_size;
    const int64_t dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim;
    const int64_t r = c.kv_lora_rank, qr = c.q_lora_rank, b = c.weight_block_size;
    const bool fp8 = c.weight_format == WeightFormat::FP8;
    int64_t params = 0, bytes = 0, scales = 0;
    auto lin = [&](int64_t out, int64_t in, bool quantizable, int64_t count = 1) {
        const bool q = quantizable && fp8;
        params += out * in * count;
        bytes += out * in * count * (q ? 1 : 2);
        if (q) {
            const int64_t s = ((out + b - 1) / b) * ((in + b - 1) / b) * count;
            scales += s;
            bytes += 4 * s;
        }
    };
    auto vec = [&](int64_t n, int64_t size = 2) {
        params += n;
        bytes += n * size;
    };
    // One decoder layer; returns the routed-expert parameters that a token does not use.
    auto layer = [&](int64_t index) {
        vec(hd);  // attn_norm
        if (qr > 0) {
            lin(qr, hd, true);
            vec(qr);
            lin(nh * (dn + dr), qr, true);
        } else {
            lin(nh * (dn + dr), hd, true);
        }
        lin(r + dr, hd, true);
        vec(r);
        lin(nh * (dn + dv), r, true);
        lin(hd, nh * dv, true);
        vec(hd);  // ffn_norm
        if (!c.is_moe_layer(index)) {
            lin(c.intermediate_size, hd, true, 2);
            lin(hd, c.intermediate_size, true);
            return int64_t{0};
        }
        const int64_t ne = c.n_routed_experts, mi = c.moe_intermediate_size;
        lin(ne, hd, false);  // gate (BF16)
        if (c.has_gate_bias) vec(ne, 4);
        lin(mi, hd, true, 2 * ne);
        lin(hd, mi, true, ne);
        if (c.n_shared_experts > 0) {
            const int64_t si = c.n_shared_experts * mi;
            lin(si, hd, true, 2);
            lin(hd, si, true);
        }
        return (ne - c.num_experts_per_tok) * 3 * hd * mi;
    };
    int64_t unused = 0;
    vec(v * hd);  // embed
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
        unused += layer(i);
    vec(hd);      // norm
    vec(v * hd);  // head
    t.params_total = params;
    t.weight_bytes = bytes;
    t.params_embedding = v * hd;
    t.params_activated_per_token = params - unused;
    t.params_activated_excl_embedding = t.params_activated_per_token - t.params_embedding;
    for (int64_t k = 0; k < c.num_nextn_predict_layers; ++k) {
        vec(v * hd);             // embed_tokens copy
        vec(2 * hd);             // enorm, hnorm
        lin(hd, 2 * hd, false);  // eh_proj (BF16)
        layer(c.num_hidden_layers + k);
        vec(hd);      // shared_head.norm
        vec(v * hd);  // shared_head.head
    }
    t.params_total_with_mtp = params;
    t.params_mtp = params - t.params_total;
    t.weight_bytes_with_mtp = bytes;
    t.stored_elements_with_mtp = params + scales;
    t.kv_cache_bytes_per_token = (r + dr) * 2 * c.num_hidden_layers;
    t.kv_cache_bytes_per_token_with_mtp = (r + dr) * 2 * c.stored_layers();
    t.kv_cache_bytes_per_token_naive = nh * (dn + dr + dv) * 2 * c.num_hidden_layers;

    // Forward FLOPs per token of a causal prefill of S tokens: 2 per multiply-add of every
    // linear a token uses (wkv_b up-projection included: naive MLA), the gate, the head at
    // every position, and attention over (S + 1) / 2 keys on average.
    const int64_t seq = flops_seq(c);
    double per_token = 0;
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        double lin_params =
            (qr > 0 ? static_cast<double>(hd) * qr + static_cast<double>(qr) * nh * (dn + dr)
                    : static_cast<double>(hd) * nh * (dn + dr)) +
            static_cast<double>(hd) * (r + dr) + static_cast<double>(r) * nh * (dn + dv) +
            static_cast<double>(nh) * dv * hd;
        if (c.is_moe_layer(i)) {
            lin_params += static_cast<double>(c.n_routed_experts) * hd +
                          3.0 * hd * c.moe_intermediate_size *
                              static_cast<double>(c.num_experts_per_tok + c.n_shared_experts);
        } else {
            lin_params += 3.0 * hd * c.intermediate_size;
        }
        per_token +=
            2.0 * lin_params + 2.0 * nh * (dn + dr + dv) * (static_cast<double>(seq) + 1.0) / 2.0;
    }
    per_token += 2.0 * static_cast<double>(hd) * v;
    t.flops_context_seq = seq;
    t.flops_per_token = per_token;
    return t;
}

StepTotals step_totals(const OpGraph& graph) {
    StepTotals t;
    t.ops = static_cast<int64_t>(graph.size());
    t.edges = static_cast<int64_t>(boost::num_edges(graph.dag()));
    t.main_tokens = graph.main_tokens();
    for (OpVertex v = 0; v < graph.size(); ++v) {
        const Op& op = graph.op(v);
        t.cost += op.cost;
        t.per_device += op.per_device;
        KindTotals& k = t.by_kind[static_cast<size_t>(op.kind)];
        ++k.count;
        k.cost += op.cost;
        k.per_device += op.per_device;
        KindTotals& p = t.by_pass[static_cast<size_t>(op.pass)];
        ++p.count;
        p.cost += op.cost;
        p.per_device += op.per_device;
    }
    return t;
}

namespace {

// Integral values print as integers (exact up to 2^53), others as doubles.
OrderedJson number(double x) {
    if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9.0e15) {
        return static_cast<int64_t>(x);
    }
    return x;
}

OrderedJson cost_json(const OpCost& c) {
    OrderedJson j;
    j["flops"] = number(c.flops);
    j["vector_ops"] = number(c.vector_ops);
    j["weight_bytes"] = number(c.weight_bytes);
    j["act_read_bytes"] = number(c.act_read_bytes);
    j["act_write_bytes"] = number(c.act_write_bytes);
    j["kv_read_bytes"] = number(c.kv_read_bytes);
    j["kv_write_bytes"] = number(c.kv_write_bytes);
    j["comm_bytes"] = number(c.comm_bytes);
    return j;
}

OrderedJson tensor_json(const OpTensor& t) {
    OrderedJson j;
    j["name"] = t.name;
    j["shape"] = t.shape;
    j["dtype"] = numerics::dtype_name(t.dtype);
    return j;
}

}  // namespace

OrderedJson op_json(const ModelConfig& config, const Op& op) {
    OrderedJson j;
    j["name"] = op.name;
    j["kind"] = op_kind_name(op.kind);
    j["pass"] = pass_name(op.pass);
    j["split"] = split_name(op.split);
    j["layer"] = op.layer;
    j["inputs"] = OrderedJson::array();
    for (const auto& t : op.inputs)
        j["inputs"].push_back(tensor_json(t));
    j["outputs"] = OrderedJson::array();
    for (const auto& t : op.outputs)
        j["outputs"].push_back(tensor_json(t));
    j["weights"] = OrderedJson::array();
    for (const auto& w : op.weights) {
        OrderedJson wj;
        if (w.experts > 0) {
            // Per-expert names: replace the index placeholder.
            std::string n = expert_param_name(w.name, 0);
            std::string hf = hf_weight_name(config, n);
            const std::string needle = ".experts.0.";
            wj["name"] = n.replace(n.find(needle), needle.size(), ".experts.{e}.");
            wj["hf"] = hf.replace(hf.find(needle), needle.size(), ".experts.{e}.");
            wj["experts"] = w.experts;
        } else {
            wj["name"] = w.name;
            wj["hf"] = hf_tensor_names(config, w.name);
        }
        wj["shape"] = w.shape;
        wj["dtype"] = numerics::dtype_name(w.dtype);
        j["weights"].push_back(std::move(wj));
    }
    if (op.kind == OpKind::Gemm || op.kind == OpKind::GroupedGemm || op.kind == OpKind::Head ||
        op.kind == OpKind::Gate) {
        j["gemm"] = {
            {"batch", op.gemm.batch}, {"m", op.gemm.m}, {"n", op.gemm.n}, {"k", op.gemm.k}};
    }
    if (op.kind == OpKind::MlaAttention) {
        const AttentionDims& a = op.attention;
        j["attention"] = {{"sequences", a.sequences},
                          {"heads", a.heads},
                          {"queries_per_seq", a.queries_per_seq},
                          {"context", a.context},
                          {"score_pairs", number(a.score_pairs)},
                          {"qk_dim", a.qk_dim},
                          {"v_dim", a.v_dim},
                          {"cache_bytes_per_token", a.cache_bytes_per_token}};
    }
    if (!op.experts.tokens_per_expert.empty()) {
        double busiest = 0;
        for (double x : op.experts.tokens_per_device)
            busiest = std::max(busiest, x);
        j["experts"] = {{"slots_per_device", op.experts.slots_per_device},
                        {"max_tokens_per_device", number(busiest)}};
    }
    if (is_communication(op.kind)) {
        j["comm"] = {{"group_size", op.comm.size},
                     {"groups", op.comm.groups},
                     {"dtype", numerics::dtype_name(op.comm.dtype)}};
    }
    j["devices"] = op.devices;
    j["cost"] = cost_json(op.cost);
    j["per_device"] = cost_json(op.per_device);
    return j;
}

OrderedJson graph_report_json(const OpGraph& graph, const ModelTotals& m) {
    const StepSpec& s = graph.step();
    OrderedJson j;
    j["model"] = std::string(graph.config().short_name());
    OrderedJson step;
    step["phase"] = phase_name(s.phase);
    step["batch"] = s.batch;
    step["seq"] = s.seq;
    step["context"] = s.context;
    step["mtp"] = s.mtp;
    step["attention"] = attention_mode_name(s.attention);
    step["gemm"] = s.gemm == GemmMode::Fp8 ? "fp8" : "bf16";
    if (s.kv_cache != KvCacheFormat::Bf16) step["kv_cache"] = kv_cache_format_name(s.kv_cache);
    step["logits_all_positions"] = s.logits_all_positions;
    step["plan"] = {{"tp", s.plan.tp},
                    {"ep", s.plan.ep},
                    {"dp", s.plan.dp},
                    {"devices", s.plan.devices},
                    {"redundant_experts", s.plan.redundant_experts}};
    j["step"] = step;
    j["params_total"] = m.params_total;
    j["params_total_with_mtp"] = m.params_total_with_mtp;
    j["params_mtp"] = m.params_mtp;
    j["params_embedding"] = m.params_embedding;
    j["params_activated_per_token"] = m.params_activated_per_token;
    j["params_activated_excl_embedding"] = m.params_activated_excl_embedding;
    j["kv_cache_bytes_per_token"] = m.kv_cache_bytes_per_token;
    j["kv_cache_bytes_per_token_with_mtp"] = m.kv_cache_bytes_per_token_with_mtp;
    j["kv_cache_bytes_per_token_naive"] = m.kv_cache_bytes_per_token_naive;
    j["flops_per_token"] = number(m.flops_per_token);
    j["flops_per_token_seq"] = m.flops_context_seq;
    j["weight_bytes"] = m.weight_bytes;
    j["weight_bytes_with_mtp"] = m.weight_bytes_with_mtp;

    const StepTotals t = step_totals(graph);
    OrderedJson g;
    g["ops"] = t.ops;
    g["edges"] = t.edges;
    g["main_tokens"] = t.main_tokens;
    g["cost"] = cost_json(t.cost);
    g["per_device"] = cost_json(t.per_device);
    OrderedJson kinds = OrderedJson::object();
    for (int k = 0; k < kOpKindCount; ++k) {
        const KindTotals& kt = t.by_kind[k];
        if (kt.count == 0) continue;
        OrderedJson kj;
        kj["count"] = kt.count;
        kj["cost"] = cost_json(kt.cost);
        kj["per_device"] = cost_json(kt.per_device);
        kinds[std::string(op_kind_name(static_cast<OpKind>(k)))] = std::move(kj);
    }
    g["by_kind"] = std::move(kinds);
    if (s.phase == Phase::Train) {
        OrderedJson passes = OrderedJson::object();
        for (int p = 0; p < 4; ++p) {
            const KindTotals& pt = t.by_pass[p];
            if (pt.count == 0) continue;
            passes[std::string(pass_name(static_cast<Pass>(p)))] = {
                {"count", pt.count},
                {"cost", cost_json(pt.cost)},
                {"per_device", cost_json(pt.per_device)}};
        }
        g["by_pass"] = std::move(passes);
    }
    j["graph"] = std::move(g);
    return j;
}

std::string op_graph_dot(const OpGraph& graph) {
    std::ostringstream out;
    const OpDag& dag = graph.dag();
    boost::write_graphviz(out, dag, [&](std::ostream& o, OpVertex v) {
        const Op& op = dag[v];
        o << "[label=\"" << op.name << "\\n" << op_kind_name(op.kind) << "\"";
        if (is_communication(op.kind)) o << ", shape=box";
        o << "]";
    });
    return out.str();
}

}  // namespace dssim::models
