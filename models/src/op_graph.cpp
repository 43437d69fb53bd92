// Builder of the op graph (one forward, decode or training step of a DeepSeek model) and the
// per-device shares under a parallel plan. The cost formulas and plan rules are written out in
// docs/model-graph.md; this file is their implementation.
#include "dssim/models/op_graph.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <utility>

#include "dssim/base/error.h"
#include "dssim/models/parallel.h"
#include "graph_constants.h"

namespace dssim::models {

namespace {

using detail::ceil_div;
using detail::kAct;
using detail::kActTile;
using detail::kGradBytes;

std::string layer_prefix(const ModelConfig& c, int64_t layer) {
    if (layer >= c.num_hidden_layers) {
        return "mtp." + std::to_string(layer - c.num_hidden_layers);
    }
    return "layers." + std::to_string(layer);
}

OpTensor tensor(std::string name, std::vector<int64_t> shape, DType dtype = DType::BF16) {
    return OpTensor{std::move(name), std::move(shape), dtype};
}

// Backward costs (docs/model-graph.md, "Training step"). B, the input gradient, costs as much
// as the forward product for linears (dX = dY W); the attention backward recomputes the
// scores and forms dQ, dK and dV (2x forward). B reads the output gradient and the stashed
// input, and writes the input gradient.
OpCost backward_input_cost(OpKind kind, const OpCost& x) {
    const double mult = backward_work_multiple(kind, Pass::BackwardInput);
    OpCost r;
    r.flops = x.flops * mult;
    r.vector_ops = x.vector_ops * mult;
    r.weight_bytes = x.weight_bytes;
    r.act_read_bytes = x.act_write_bytes + x.act_read_bytes;
    r.act_write_bytes = x.act_read_bytes;
    r.kv_read_bytes = x.kv_write_bytes + x.kv_read_bytes;
    r.comm_bytes = x.comm_bytes;
    return r;
}

// W, the weight gradient (dW = dY^T X), costs as much as the forward product; it writes an
// FP32 gradient for the weights the forward op touched (same fraction of the stored bytes:
// looked-up embedding rows, experts that received tokens, the TP shard).
OpCost backward_weight_cost(const ModelConfig& c, const Op& f, const OpCost& x) {
    double params = 0, stored = 0;
    for (const auto& wr : f.weights) {
        params += static_cast<double>(wr.params());
        stored += static_cast<double>(wr.stored_bytes(c));
    }
    OpCost r;
    r.flops = x.flops;
    r.vector_ops = f.kind == OpKind::RmsNorm || f.kind == OpKind::Embedding
                       ? x.act_write_bytes / kAct * 2.0
                       : 0.0;
    r.act_read_bytes = x.act_read_bytes + x.act_write_bytes;
    r.weight_bytes = stored > 0 ? x.weight_bytes / stored * params * kGradBytes : 0.0;
    return r;
}

// The gradient all-to-alls run the other way. V3's FP8 training (tech report §3.3) sends the
// activation gradient to the experts (the combine's backward) in FP8 like the forward dispatch,
// and returns the experts' input gradient (the dispatch's backward) in BF16 like the forward
// combine. Sets B's payload dtype and scales its bytes from the forward op's payload.
void set_backward_payload(const ModelConfig& c, const Op& f, Op& b) {
    if (f.kind != OpKind::Dispatch && f.kind != OpKind::Combine) return;
    b.comm.dtype = f.kind == OpKind::Combine ? DType::F8E4M3 : DType::BF16;
    auto per_copy = [&](DType t) {
        return t == DType::F8E4M3 ? dispatch_bytes_per_copy(c.hidden_size)
                                  : combine_bytes_per_copy(c.hidden_size);
    };
    const double ratio = per_copy(b.comm.dtype) / per_copy(f.comm.dtype);
    for (OpCost* x : {&b.cost, &b.per_device}) {
        x->comm_bytes *= ratio;
        x->act_read_bytes *= ratio;
        x->act_write_bytes *= ratio;
    }
}

// Recomputes the B and W ops of a forward op after its cost changed (apply_expert_loads).
void refresh_backward(OpGraph& g, const Op& f) {
    if (auto b = g.find(f.name + ".grad_input")) {
        g.op(*b).cost = backward_input_cost(f.kind, f.cost);
        g.op(*b).per_device = backward_input_cost(f.kind, f.per_device);
        g.op(*b).experts = f.experts;
        set_backward_payload(g.config(), f, g.op(*b));
    }
    if (auto w = g.find(f.name + ".grad_weight")) {
        g.op(*w).cost = backward_weight_cost(g.config(), f, f.cost);
        g.op(*w).per_device = backward_weight_cost(g.config(), f, f.per_device);
        g.op(*w).experts = f.experts;
    }
}

class Builder {
  public:
    explicit Builder(OpGraph& graph)
        : g_(graph), c_(graph.config()), s_(graph.step()), p_(s_.plan) {
        fp8_ = c_.weight_format == WeightFormat::FP8;
    }

    void build() {
        const int64_t b = s_.batch;
        const int64_t n_mtp = s_.mtp ? c_.num_nextn_predict_layers : 0;
        // New tokens per sequence through the main model.
        q_main_ = s_.phase == Phase::Decode ? 1 + n_mtp : s_.seq;
        const int64_t t_main = b * q_main_;
        g_.set_main_tokens(t_main);
        g_.set_mtp_modules(n_mtp);
        const bool all_logits = s_.logits_all_positions || s_.phase != Phase::Prefill;

        std::string h =
            s_.stage.first ? embedding("embed", "tokens", t_main, -1, false) : "stage_input";
        for (int64_t layer = 0; layer < c_.num_hidden_layers; ++layer) {
            h = block(layer, h, t_main, q_main_);
        }
        if (!s_.stage.last) {
            // A middle or first stage hands its last layer's output to the next stage.
            if (s_.phase == Phase::Train) add_backward();
            return;
        }
        const std::string main_hidden = h;
        const int64_t rows = all_logits ? t_main : b;
        std::string out = output_head("", h, rows, -1);

        // MTP modules: module k combines the previous hidden state with the embedding of the
        // next token and predicts one token further.
        std::string prev_hidden = main_hidden;
        for (int64_t k = 0; k < n_mtp; ++k) {
            const int64_t layer = c_.num_hidden_layers + k;
            const std::string pre = layer_prefix(c_, layer);
            const int64_t q = s_.phase == Phase::Decode ? 1 : s_.seq;
            const int64_t t = b * q;
            std::string emb;
            if (s_.phase == Phase::Train) {
                // Training: the shifted input tokens are already embedded by `embed` (the
                // MTP embedding shares its weights), so the module reads that output.
                emb = "embed";
            } else {
                // Inference: embed the token just sampled, with the module's stored copy.
                emb = embedding(pre + ".embed", out, t, layer, true);
            }
            std::string en = rms_norm(pre + ".enorm", emb, t, c_.hidden_size, layer);
            std::string hn = rms_norm(pre + ".hnorm", prev_hidden, t, c_.hidden_size, layer);
            Op cat = make(pre + ".concat", OpKind::Concat, layer, Split::DataParallel);
            cat.inputs = {tensor(en, {t, c_.hidden_size}), tensor(hn, {t, c_.hidden_size})};
            cat.outputs = {tensor(cat.name, {t, 2 * c_.hidden_size})};
            cat.cost.act_read_bytes = 2.0 * t * c_.hidden_size * kAct;
            cat.cost.act_write_bytes = cat.cost.act_read_bytes;
            std::string x = add(std::move(cat));
            // eh_proj is stored in BF16 even in FP8 checkpoints.
            x = linear(pre + ".eh_proj", x, t, 2 * c_.hidden_size, c_.hidden_size, layer,
                       Split::DataParallel, false);
            x = block(layer, x, t, q);
            prev_hidden = x;
            const int64_t mrows = (s_.phase == Phase::Prefill && !s_.logits_all_positions) ? b : t;
            out = output_head(pre + ".", x, mrows, layer);
        }
        if (s_.phase == Phase::Train) add_backward();
    }

  private:
    // ---- op construction helpers ---------------------------------------------------------

    Op make(std::string name, OpKind kind, int64_t layer, Split split) {
        Op op;
        op.name = std::move(name);
        op.kind = kind;
        op.layer = layer;
        op.split = split;
        return op;
    }

    // Adds the op after computing its per-device share; returns its (first) output name.
    std::string add(Op op, std::span<const OpVertex> deps = {}) {
        op.devices = p_.devices;
        op.per_device = device_share(c_, s_, op);
        std::string out = op.outputs.empty() ? op.name : op.outputs.front().name;
        fwd_.push_back(g_.add(std::move(op), deps));
        return out;
    }

    WeightRef weight(std::string name,
                     std::vector<int64_t> shape,
                     DType dtype,
                     bool scaled,
                     int64_t layer) const {
        WeightRef w;
        w.name = std::move(name);
        w.shape = std::move(shape);
        w.dtype = dtype;
        w.block_scaled = scaled;
        w.mtp = layer >= c_.num_hidden_layers;
        return w;
    }

    // Weight of a linear layer: FP8 with block scales in FP8 checkpoints, else BF16.
    WeightRef linear_weight(
        std::string name, int64_t out, int64_t in, int64_t layer, bool quantizable) const {
        const bool q = quantizable && fp8_;
        return weight(std::move(name), {out, in}, q ? DType::F8E4M3 : DType::BF16, q, layer);
    }

    // FP8 GEMM mode: the input of an FP8 linear is quantised once per tensor (shared by all
    // linears reading it). Returns the tensor the linear should read.
    std::pair<std::string, DType> gemm_input(
        const std::string& x, int64_t rows, int64_t width, int64_t layer, bool fp8_weight) {
        if (s_.gemm != GemmMode::Fp8 || !fp8_weight) return {x, DType::BF16};
        return {act_quant(x, rows, width, layer), DType::F8E4M3};
    }

    std::string act_quant(const std::string& x, int64_t rows, int64_t width, int64_t layer) {
        const std::string name = x + ".act_quant";
        if (g_.find(name)) return name;
        Op op = make(name, OpKind::ActQuant, layer, Split::DataParallel);
        op.inputs = {tensor(x, {rows, width})};
        op.outputs = {tensor(name, {rows, width}, DType::F8E4M3),
                      tensor(name + ".scale", {rows, ceil_div(width, kActTile)}, DType::F32)};
        op.cost.vector_ops = 3.0 * rows * width;  // |x| max, divide, convert
        op.cost.act_read_bytes = static_cast<double>(rows) * width * kAct;
        op.cost.act_write_bytes =
            static_cast<double>(rows) * width + 4.0 * rows * ceil_div(width, kActTile);
        add(std::move(op));
        return name;
    }

    std::string linear(const std::string& name,
                       const std::string& x,
                       int64_t rows,
                       int64_t in,
                       int64_t out,
                       int64_t layer,
                       Split split,
                       bool quantizable) {
        WeightRef w = linear_weight(name, out, in, layer, quantizable);
        auto [input, in_type] = gemm_input(x, rows, in, layer, w.block_scaled);
        Op op = make(name, OpKind::Gemm, layer, split);
        op.inputs = {tensor(input, {rows, in}, in_type)};
        if (in_type == DType::F8E4M3) {
            op.inputs.push_back(
                tensor(input + ".scale", {rows, ceil_div(in, kActTile)}, DType::F32));
        }
        op.outputs = {tensor(name, {rows, out})};
        op.gemm = GemmDims{1, rows, out, in};
        op.cost.flops = 2.0 * rows * out * in;
        op.cost.weight_bytes = static_cast<double>(w.stored_bytes(c_));
        op.cost.act_read_bytes = 0;
        for (const auto& t : op.inputs)
            op.cost.act_read_bytes += static_cast<double>(t.bytes());
        op.cost.act_write_bytes = static_cast<double>(rows) * out * kAct;
        op.weights = {std::move(w)};
        return add(std::move(op));
    }

    std::string rms_norm(const std::string& name,
                         const std::string& x,
                         int64_t rows,
                         int64_t dim,
                         int64_t layer,
                         Split split = Split::DataParallel) {
        Op op = make(name, OpKind::RmsNorm, layer, split);
        op.inputs = {tensor(x, {rows, dim})};
        op.outputs = {tensor(name, {rows, dim})};
        op.weights = {weight(name, {dim}, DType::BF16, false, layer)};
        op.cost.vector_ops = 4.0 * rows * dim;  // square, sum, scale, weight
        op.cost.weight_bytes = dim * kAct;
        op.cost.act_read_bytes = static_cast<double>(rows) * dim * kAct;
        op.cost.act_write_bytes = op.cost.act_read_bytes;
        return add(std::move(op));
    }

    std::string all_reduce(const std::string& x, int64_t rows, int64_t width, int64_t layer) {
        Op op = make(x + ".allreduce", OpKind::AllReduce, layer, Split::Collective);
        op.inputs = {tensor(x, {rows, width})};
        op.outputs = {tensor(op.name, {rows, width})};
        op.comm = CommGroup{p_.tp, p_.dp, DType::BF16};
        const double payload = static_cast<double>(rows) * width * kAct;
        op.cost.act_read_bytes = payload;
        op.cost.act_write_bytes = payload;
        op.cost.vector_ops = static_cast<double>(p_.tp - 1) * rows * width;
        // Ring all-reduce: each member sends 2(n-1)/n of its buffer.
        const double n = static_cast<double>(p_.tp);
        op.cost.comm_bytes = 2.0 * (n - 1.0) / n * payload * n;
        return add(std::move(op));
    }

    std::string embedding(const std::string& name,
                          const std::string& ids,
                          int64_t rows,
                          int64_t layer,
                          bool mtp_copy) {
        Op op = make(name, OpKind::Embedding, layer, Split::VocabParallel);
        op.inputs = {tensor(ids, {rows}, DType::I64)};
        op.outputs = {tensor(name, {rows, c_.hidden_size})};
        WeightRef w = weight(name, {c_.vocab_size, c_.hidden_size}, DType::BF16, false, layer);
        w.mtp = mtp_copy;
        op.weights = {std::move(w)};
        op.cost.weight_bytes =
            static_cast<double>(std::min(rows, c_.vocab_size)) * c_.hidden_size * kAct;
        op.cost.act_read_bytes = rows * 8.0;
        op.cost.act_write_bytes = static_cast<double>(rows) * c_.hidden_size * kAct;
        std::string out = add(std::move(op));
        if (p_.tp > 1) out = all_reduce(out, rows, c_.hidden_size, layer);
        return out;
    }

    // Final norm, head, (all-gather), sampling or loss. `pre` is "" or "mtp.k.".
    std::string output_head(const std::string& pre,
                            const std::string& h,
                            int64_t rows,
                            int64_t layer) {
        // The norm runs on the rows that reach the head only (it is per-token, so the values
        // equal the demo's norm of every position followed by selection).
        std::string x = rms_norm(pre + "norm", h, rows, c_.hidden_size, layer);
        Op op = make(pre + "head", OpKind::Head, layer, Split::VocabParallel);
        op.inputs = {tensor(x, {rows, c_.hidden_size})};
        op.outputs = {tensor(op.name, {rows, c_.vocab_size})};
        op.weights = {weight(op.name, {c_.vocab_size, c_.hidden_size}, DType::BF16, false, layer)};
        op.gemm = GemmDims{1, rows, c_.vocab_size, c_.hidden_size};
        op.cost.flops = 2.0 * rows * c_.vocab_size * c_.hidden_size;
        op.cost.weight_bytes = static_cast<double>(c_.vocab_size) * c_.hidden_size * kAct;
        op.cost.act_read_bytes = static_cast<double>(rows) * c_.hidden_size * kAct;
        op.cost.act_write_bytes = static_cast<double>(rows) * c_.vocab_size * kAct;
        std::string logits = add(std::move(op));
        if (p_.tp > 1) {
            Op ag = make(logits + ".allgather", OpKind::AllGather, layer, Split::Collective);
            ag.inputs = {tensor(logits, {rows, c_.vocab_size / p_.tp})};
            ag.outputs = {tensor(ag.name, {rows, c_.vocab_size})};
            ag.comm = CommGroup{p_.tp, p_.dp, DType::BF16};
            const double full = static_cast<double>(rows) * c_.vocab_size * kAct;
            const double n = static_cast<double>(p_.tp);
            ag.cost.act_read_bytes = full;
            ag.cost.act_write_bytes = full * n;
            ag.cost.comm_bytes = (n - 1.0) * full;  // every shard goes to n-1 peers
            logits = add(std::move(ag));
        }
        const bool train = s_.phase == Phase::Train;
        Op last = make(pre + (train ? "loss" : "sampling"), train ? OpKind::Loss : OpKind::Sampling,
                       layer, Split::DataParallel);
        last.inputs = {tensor(logits, {rows, c_.vocab_size})};
        if (train) last.inputs.push_back(tensor("targets", {rows}, DType::I64));
        last.outputs = {train ? tensor(last.name, {rows}, DType::F32)
                              : tensor(last.name, {rows}, DType::I64)};
        // Softmax (max, exp, sum, divide) plus the sampling noise division and argmax, or the
        // target pick and log for the loss.
        last.cost.vector_ops = 5.0 * rows * c_.vocab_size;
        last.cost.act_read_bytes = static_cast<double>(rows) * c_.vocab_size * kAct;
        last.cost.act_write_bytes = rows * (train ? 4.0 : 8.0);
        return add(std::move(last));
    }

    // ---- one transformer block ----------------------------------------------------------

    std::string block(int64_t layer, const std::string& x, int64_t t, int64_t q) {
        const std::string pre = layer_prefix(c_, layer);
        const int64_t hd = c_.hidden_size;
        std::string a = attention(layer, pre, rms_norm(pre + ".attn_norm", x, t, hd, layer), t, q);
        Op res = make(pre + ".attn_residual", OpKind::Elementwise, layer, Split::DataParallel);
        res.role = OpRole::Residual;
        res.inputs = {tensor(x, {t, hd}), tensor(a, {t, hd})};
        res.outputs = {tensor(res.name, {t, hd})};
        res.cost.vector_ops = static_cast<double>(t) * hd;
        res.cost.act_read_bytes = 2.0 * t * hd * kAct;
        res.cost.act_write_bytes = static_cast<double>(t) * hd * kAct;
        std::string h = add(std::move(res));
        std::string n = rms_norm(pre + ".ffn_norm", h, t, hd, layer);
        std::vector<std::string> parts = {h};
        if (c_.is_moe_layer(layer)) {
            for (auto& part : moe(layer, pre, n, t))
                parts.push_back(std::move(part));
        } else {
            parts.push_back(mlp(pre + ".mlp", n, t, c_.intermediate_size, layer));
        }
        Op out = make(pre + ".ffn_residual", OpKind::Elementwise, layer, Split::DataParallel);
        out.role = OpRole::Residual;
        for (const auto& p : parts)
            out.inputs.push_back(tensor(p, {t, hd}));
        out.outputs = {tensor(out.name, {t, hd})};
        out.cost.vector_ops = static_cast<double>(parts.size() - 1) * t * hd;
        out.cost.act_read_bytes = static_cast<double>(parts.size()) * t * hd * kAct;
        out.cost.act_write_bytes = static_cast<double>(t) * hd * kAct;
        return add(std::move(out));
    }

    std::string rope(
        const std::string& name, const std::string& x, int64_t t, int64_t heads, int64_t layer) {
        const int64_t dr = c_.qk_rope_head_dim;
        Op op =
            make(name, OpKind::RoPE, layer, heads > 1 ? Split::HeadParallel : Split::DataParallel);
        op.inputs = {tensor(x, {t, heads, dr})};
        op.outputs = {tensor(name, {t, heads, dr})};
        op.cost.vector_ops = 3.0 * t * heads * dr;  // complex multiply per pair: 6 ops / 2 elements
        op.cost.act_read_bytes = static_cast<double>(t) * heads * dr * kAct;
        op.cost.act_write_bytes = op.cost.act_read_bytes;
        return add(std::move(op));
    }

    std::string attention(
        int64_t layer, const std::string& pre, const std::string& x, int64_t t, int64_t q) {
        const int64_t hd = c_.hidden_size, nh = c_.num_attention_heads;
        const int64_t dn = c_.qk_nope_head_dim, dr = c_.qk_rope_head_dim, dv = c_.v_head_dim;
        const int64_t r = c_.kv_lora_rank;
        const std::string at = pre + ".attn";
        // q path: [t, nh * (dn + dr)]
        std::string qv;
        if (c_.q_lora_rank > 0) {
            std::string qa =
                linear(at + ".wq_a", x, t, hd, c_.q_lora_rank, layer, Split::DataParallel, true);
            qa = rms_norm(at + ".q_norm", qa, t, c_.q_lora_rank, layer);
            qv = linear(at + ".wq_b", qa, t, c_.q_lora_rank, nh * (dn + dr), layer,
                        Split::ColumnParallel, true);
        } else {
            qv = linear(at + ".wq", x, t, hd, nh * (dn + dr), layer, Split::ColumnParallel, true);
        }
        std::string q_pe = rope(at + ".rope_q", qv, t, nh, layer);
        // kv path: [t, r + dr] -> latent [t, r] and shared rope key [t, dr]
        std::string kv = linear(at + ".wkv_a", x, t, hd, r + dr, layer, Split::DataParallel, true);
        std::string kv_n = rms_norm(at + ".kv_norm", kv, t, r, layer);
        std::string k_pe = rope(at + ".rope_k", kv, t, 1, layer);

        const int64_t b = s_.batch;
        Op core = make(at + ".core", OpKind::MlaAttention, layer, Split::HeadParallel);
        AttentionDims& ad = core.attention;
        ad.sequences = b;
        ad.heads = nh;
        ad.queries_per_seq = q;
        ad.context = s_.context;
        ad.nope_dim = dn;
        ad.rope_dim = dr;
        ad.value_dim = dv;
        ad.latent_dim = r;
        // Causal: query j (1-based) of a sequence attends to context + j keys.
        ad.score_pairs =
            static_cast<double>(b) * (static_cast<double>(q) * s_.context + q * (q + 1) / 2.0);
        const double pairs = ad.score_pairs;
        std::string attn_out;
        WeightRef wkv_b = linear_weight(at + ".wkv_b", nh * (dn + dv), r, layer, true);
        if (s_.attention == AttentionMode::Naive) {
            // k_nope and v per head from the latent: [t, nh * (dn + dv)]
            std::string kvb = linear(at + ".wkv_b", kv_n, t, r, nh * (dn + dv), layer,
                                     Split::ColumnParallel, true);
            ad.qk_dim = dn + dr;
            ad.v_dim = dv;
            ad.cache_bytes_per_token = static_cast<int64_t>(nh * (dn + dr + dv) * kAct);
            core.inputs = {tensor(qv, {t, nh, dn + dr}), tensor(q_pe, {t, nh, dr}),
                           tensor(kvb, {t, nh, dn + dv}), tensor(k_pe, {t, 1, dr})};
            core.outputs = {tensor(core.name, {t, nh * dv})};
            attn_out = core.name;
        } else {
            // Absorbed: q_nope [t, nh, dn] x W_UK [nh, dn, r] -> [t, nh, r]
            Op uk = make(at + ".wkv_b.k", OpKind::Gemm, layer, Split::HeadParallel);
            uk.role = OpRole::AbsorbedQuery;
            uk.inputs = {tensor(qv, {t, nh, dn + dr})};
            uk.outputs = {tensor(uk.name, {t, nh, r})};
            uk.weights = {wkv_b};
            uk.gemm = GemmDims{nh, t, r, dn};
            uk.cost.flops = 2.0 * t * nh * dn * r;
            uk.cost.weight_bytes = wkv_b.stored_bytes(c_) * static_cast<double>(dn) / (dn + dv);
            uk.cost.act_read_bytes = static_cast<double>(t) * nh * dn * kAct;
            uk.cost.act_write_bytes = static_cast<double>(t) * nh * r * kAct;
            std::string q_lat = add(std::move(uk));
            ad.qk_dim = r + dr;
            ad.v_dim = r;
            ad.cache_bytes_per_token = latent_cache_bytes_per_token(r, dr, s_.kv_cache);
            core.inputs = {tensor(q_lat, {t, nh, r}), tensor(q_pe, {t, nh, dr}),
                           tensor(kv_n, {t, r}), tensor(k_pe, {t, 1, dr})};
            core.outputs = {tensor(core.name, {t, nh, r})};
        }
        core.cost.flops = 2.0 * nh * (ad.qk_dim + ad.v_dim) * pairs;
        core.cost.vector_ops = 5.0 * nh * pairs;  // scale, max, exp, sum, divide
        for (const auto& in : core.inputs)
            core.cost.act_read_bytes += in.bytes();
        core.cost.act_write_bytes = static_cast<double>(core.outputs[0].bytes());
        core.cost.kv_read_bytes = static_cast<double>(b) * s_.context * ad.cache_bytes_per_token;
        core.cost.kv_write_bytes = static_cast<double>(t) * ad.cache_bytes_per_token;
        std::string core_out = add(std::move(core));
        if (s_.attention == AttentionMode::Absorbed) {
            // [t, nh, r] x W_UV [nh, r, dv] -> [t, nh * dv]
            Op uv = make(at + ".wkv_b.v", OpKind::Gemm, layer, Split::HeadParallel);
            uv.role = OpRole::AbsorbedOutput;
            uv.inputs = {tensor(core_out, {t, nh, r})};
            uv.outputs = {tensor(uv.name, {t, nh * dv})};
            uv.weights = {wkv_b};
            uv.gemm = GemmDims{nh, t, dv, r};
            uv.cost.flops = 2.0 * t * nh * r * dv;
            uv.cost.weight_bytes = wkv_b.stored_bytes(c_) * static_cast<double>(dv) / (dn + dv);
            uv.cost.act_read_bytes = static_cast<double>(t) * nh * r * kAct;
            uv.cost.act_write_bytes = static_cast<double>(t) * nh * dv * kAct;
            attn_out = add(std::move(uv));
        } else {
            attn_out = core_out;
        }
        std::string o =
            linear(at + ".wo", attn_out, t, nh * dv, hd, layer, Split::RowParallel, true);
        if (p_.tp > 1) o = all_reduce(o, t, hd, layer);
        return o;
    }

    // SwiGLU MLP (dense layers and shared experts), TP column/row split.
    std::string mlp(
        const std::string& pre, const std::string& x, int64_t t, int64_t inter, int64_t layer) {
        const int64_t hd = c_.hidden_size;
        std::string a = linear(pre + ".w1", x, t, hd, inter, layer, Split::ColumnParallel, true);
        std::string b = linear(pre + ".w3", x, t, hd, inter, layer, Split::ColumnParallel, true);
        std::string s = swiglu(pre + ".swiglu", a, b, t, inter, layer, Split::ColumnParallel);
        std::string o = linear(pre + ".w2", s, t, inter, hd, layer, Split::RowParallel, true);
        if (p_.tp > 1) o = all_reduce(o, t, hd, layer);
        return o;
    }

    std::string swiglu(const std::string& name,
                       const std::string& a,
                       const std::string& b,
                       double rows,
                       int64_t width,
                       int64_t layer,
                       Split split) {
        Op op = make(name, OpKind::SwiGLU, layer, split);
        const auto r = static_cast<int64_t>(std::ceil(rows));
        op.inputs = {tensor(a, {r, width}), tensor(b, {r, width})};
        op.outputs = {tensor(name, {r, width})};
        op.cost.vector_ops = 5.0 * rows * width;  // silu (exp, add, divide, multiply) and product
        op.cost.act_read_bytes = 2.0 * rows * width * kAct;
        op.cost.act_write_bytes = rows * width * kAct;
        return add(std::move(op));
    }

    // Routed + shared experts; returns the tensors added into the residual.
    std::vector<std::string> moe(int64_t layer,
                                 const std::string& pre,
                                 const std::string& x,
                                 int64_t t) {
        const int64_t hd = c_.hidden_size, ne = c_.n_routed_experts, k = c_.num_experts_per_tok;
        const std::string m = pre + ".moe";
        Op gate = make(m + ".gate", OpKind::Gate, layer, Split::DataParallel);
        gate.inputs = {tensor(x, {t, hd})};
        gate.outputs = {tensor(gate.name + ".weights", {t, k}),
                        tensor(gate.name + ".indices", {t, k}, DType::I32)};
        gate.weights = {weight(gate.name, {ne, hd}, DType::BF16, false, layer)};
        gate.routing = routing_of(c_);
        if (c_.has_gate_bias) {
            WeightRef bias = weight(gate.name + ".bias", {ne}, DType::F32, false, layer);
            bias.is_bias = true;
            gate.weights.push_back(std::move(bias));
        }
        gate.gemm = GemmDims{1, t, ne, hd};
        gate.cost.flops = 2.0 * t * ne * hd;
        // score function, bias add, group scores and the top-k selections, normalisation
        gate.cost.vector_ops = 6.0 * t * ne;
        for (const auto& w : gate.weights)
            gate.cost.weight_bytes += w.stored_bytes(c_);
        gate.cost.act_read_bytes = static_cast<double>(t) * hd * kAct;
        gate.cost.act_write_bytes = t * k * (kAct + 4.0);
        add(std::move(gate));
        const std::string weights = m + ".gate.weights", indices = m + ".gate.indices";

        const bool ep = p_.ep > 1;
        const double pairs = static_cast<double>(t) * k;
        const auto pair_rows = t * k;
        std::string xin = x;
        DType xin_type = DType::BF16;
        if (ep) {
            // DeepSeek dispatches FP8 (1x128 scaled) tokens to the expert devices.
            std::string qx = act_quant(x, t, hd, layer);
            Op d = make(m + ".dispatch", OpKind::Dispatch, layer, Split::Collective);
            d.inputs = {tensor(qx, {t, hd}, DType::F8E4M3),
                        tensor(qx + ".scale", {t, ceil_div(hd, kActTile)}, DType::F32),
                        tensor(indices, {t, k}, DType::I32)};
            d.outputs = {
                tensor(d.name, {pair_rows, hd}, DType::F8E4M3),
                tensor(d.name + ".scale", {pair_rows, ceil_div(hd, kActTile)}, DType::F32)};
            d.comm = CommGroup{p_.ep, p_.devices / p_.ep, DType::F8E4M3};
            moe_comm_.push_back(add_comm(std::move(d)));
            xin = m + ".dispatch";
            xin_type = DType::F8E4M3;
        } else if (s_.gemm == GemmMode::Fp8 && fp8_) {
            xin = act_quant(x, t, hd, layer);
            xin_type = DType::F8E4M3;
        }
        const int64_t mi = c_.moe_intermediate_size;
        const std::string ex = m + ".experts";
        auto grouped = [&](const std::string& name, const std::string& in, DType in_type,
                           int64_t k_dim, int64_t n_dim, Split split) {
            Op op = make(name, OpKind::GroupedGemm, layer, ep ? Split::ExpertParallel : split);
            op.inputs = {tensor(in, {pair_rows, k_dim}, in_type)};
            if (in_type == DType::F8E4M3) {
                op.inputs.push_back(
                    tensor(in + ".scale", {pair_rows, ceil_div(k_dim, kActTile)}, DType::F32));
            }
            op.inputs.push_back(tensor(indices, {t, k}, DType::I32));
            op.outputs = {tensor(name, {pair_rows, n_dim})};
            WeightRef w = linear_weight(name, n_dim, k_dim, layer, true);
            w.experts = ne;
            op.weights = {std::move(w)};
            op.gemm = GemmDims{1, pair_rows, n_dim, k_dim};
            std::string out = op.name;
            grouped_.push_back(g_.add(std::move(op)));
            fwd_.push_back(grouped_.back());
            return out;
        };
        std::string a = grouped(ex + ".w1", xin, xin_type, hd, mi, Split::ColumnParallel);
        std::string b = grouped(ex + ".w3", xin, xin_type, hd, mi, Split::ColumnParallel);
        Split act_split = ep ? Split::ExpertParallel : Split::ColumnParallel;
        std::string s = swiglu(ex + ".swiglu", a, b, pairs, mi, layer, act_split);
        std::string s_in = s;
        DType s_type = DType::BF16;
        if (s_.gemm == GemmMode::Fp8 && fp8_) {
            s_in = act_quant(s, pair_rows, mi, layer);
            s_type = DType::F8E4M3;
        }
        std::string y = grouped(ex + ".w2", s_in, s_type, mi, hd, Split::RowParallel);
        if (ep) {
            Op cb = make(m + ".combine", OpKind::Combine, layer, Split::Collective);
            cb.inputs = {tensor(y, {pair_rows, hd}), tensor(indices, {t, k}, DType::I32)};
            cb.outputs = {tensor(cb.name, {t, k, hd})};
            cb.comm = CommGroup{p_.ep, p_.devices / p_.ep, DType::BF16};
            moe_comm_.push_back(add_comm(std::move(cb)));
            y = m + ".combine";
        }
        // Weighted sum of the k expert outputs per token, in expert-index order.
        Op ws = make(m + ".weighted_sum", OpKind::Elementwise, layer, Split::DataParallel);
        ws.role = OpRole::ExpertWeightedSum;
        // The gate indices say which expert each of the k rows of a token came from.
        ws.inputs = {tensor(y, {t, k, hd}), tensor(weights, {t, k}),
                     tensor(indices, {t, k}, DType::I32)};
        ws.outputs = {tensor(ws.name, {t, hd})};
        ws.cost.vector_ops = 2.0 * pairs * hd;
        ws.cost.act_read_bytes = pairs * hd * kAct + pairs * kAct;
        ws.cost.act_write_bytes = static_cast<double>(t) * hd * kAct;
        std::string routed = add(std::move(ws));
        // Routed experts tensor-parallel (no EP) leave partial sums on every TP rank.
        if (!ep && p_.tp > 1) routed = all_reduce(routed, t, hd, layer);
        // Layer-local balanced load until apply_expert_loads replaces it.
        std::vector<double> balanced(static_cast<size_t>(ne), pairs / static_cast<double>(ne));
        set_expert_costs(g_, layer, balanced);

        std::vector<std::string> parts = {routed};
        if (c_.n_shared_experts > 0) {
            parts.push_back(mlp(m + ".shared_experts", x, t, c_.n_shared_experts * mi, layer));
        }
        return parts;
    }

    OpVertex add_comm(Op op) {
        OpVertex v = g_.add(std::move(op));
        fwd_.push_back(v);
        return v;
    }

  public:
    // Sets the cost and per-device share of the GroupedGemm/Dispatch/Combine/SwiGLU ops of
    // one MoE layer from a token count per expert.
    static void set_expert_costs(OpGraph& g, int64_t layer, std::span<const double> load);

  private:
    // ---- training backward ---------------------------------------------------------------

    void add_backward();

    OpGraph& g_;
    const ModelConfig& c_;
    const StepSpec& s_;
    const ParallelPlan& p_;
    bool fp8_ = false;
    int64_t q_main_ = 1;
    std::vector<OpVertex> fwd_;
    std::vector<OpVertex> grouped_;
    std::vector<OpVertex> moe_comm_;
};

void Builder::set_expert_costs(OpGraph& g, int64_t layer, std::span<const double> load) {
    const ModelConfig& c = g.config();
    const StepSpec& step = g.step();
    const int64_t hd = c.hidden_size, mi = c.moe_intermediate_size;
    const std::string m = layer_prefix(c, layer) + ".moe";
    double pairs = 0;
    int64_t active = 0;
    for (double v : load) {
        pairs += v;
        if (v > 0) ++active;
    }
    const ExpertLoad info = expert_load_under_plan(c, step.plan, load);
    // Logical costs here; the busiest device's share from models/parallel.
    auto set_share = [&](Op& op) {
        op.experts = info;
        op.devices = step.plan.devices;
        op.per_device = device_share(c, step, op);
    };
    for (const char* proj : {"w1", "w3", "w2"}) {
        auto v = g.find(m + ".experts." + proj);
        if (!v) continue;
        Op& op = g.op(*v);
        const bool down = std::string_view(proj) == "w2";
        const double k_dim = down ? mi : hd, n_dim = down ? hd : mi;
        const double in_bytes = op.inputs[0].dtype == DType::F8E4M3 ? 1.0 + 4.0 / kActTile : kAct;
        const double expert_bytes = static_cast<double>(op.weights[0].stored_bytes(c)) /
                                    static_cast<double>(c.n_routed_experts);
        op.cost = OpCost{};
        op.cost.flops = 2.0 * pairs * n_dim * k_dim;
        op.cost.weight_bytes = expert_bytes * active;
        op.cost.act_read_bytes = pairs * k_dim * in_bytes;
        op.cost.act_write_bytes = pairs * n_dim * kAct;
        set_share(op);
    }
    if (auto v = g.find(m + ".experts.swiglu")) {
        Op& op = g.op(*v);
        op.cost.vector_ops = 5.0 * pairs * mi;
        op.cost.act_read_bytes = 2.0 * pairs * mi * kAct;
        op.cost.act_write_bytes = pairs * mi * kAct;
        set_share(op);
    }
    // All-to-all: every token-expert pair whose expert is on another rank crosses the network
    // once; uniform sources send (ep-1)/ep of their pairs.
    const double e = static_cast<double>(step.plan.ep);
    const double remote = (e - 1.0) / e;
    for (OpKind kind : {OpKind::Dispatch, OpKind::Combine}) {
        auto v = g.find(m + (kind == OpKind::Dispatch ? ".dispatch" : ".combine"));
        if (!v) continue;
        Op& op = g.op(*v);
        const double per_pair = ep_bytes_per_copy(c, kind);
        op.cost = OpCost{};
        op.cost.comm_bytes = pairs * per_pair * remote;
        op.cost.act_read_bytes = pairs * per_pair;
        op.cost.act_write_bytes = pairs * per_pair;
        set_share(op);
    }
    // Training graphs: the B and W ops follow their forward op.
    for (const char* name : {".experts.w1", ".experts.w3", ".experts.swiglu", ".experts.w2",
                             ".dispatch", ".combine"}) {
        if (auto v = g.find(m + name)) refresh_backward(g, g.op(*v));
    }
}

void Builder::add_backward() {
    // Forward ops in insertion order are topologically sorted (an op's inputs exist before
    // it). Walk them backwards: B(op) needs the gradients of op's outputs, i.e. the B ops of
    // its consumers; W(op) needs the same gradients and runs independently of B(op).
    const std::vector<OpVertex> fwd = fwd_;
    std::unordered_map<OpVertex, OpVertex> bwd_of;
    struct SyncGroup {
        std::string name;
        std::vector<OpVertex> w_ops;
        double params = 0;
        int64_t replicas = 1;
        double shard = 1;  // TP shards of these parameters
        int64_t layer = -1;
    };
    std::vector<SyncGroup> groups;
    std::map<std::string, size_t> group_index;
    const auto& dag = g_.dag();

    for (auto it = fwd.rbegin(); it != fwd.rend(); ++it) {
        const OpVertex v = *it;
        const Op f = g_.op(v);  // copy: adding vertices may reallocate the vertex storage
        std::vector<OpVertex> deps;
        for (auto [e, end] = boost::out_edges(v, dag); e != end; ++e) {
            auto b = bwd_of.find(boost::target(*e, dag));
            if (b != bwd_of.end()) deps.push_back(b->second);
        }
        // The loss, and a pipeline stage's output (no consumer in this graph: its gradient
        // comes from the next stage after its forward pass), start the backward pass.
        if (f.kind == OpKind::Loss || boost::out_degree(v, dag) == 0) deps.push_back(v);
        std::sort(deps.begin(), deps.end());
        deps.erase(std::unique(deps.begin(), deps.end()), deps.end());

        auto derive = [&](const std::string& suffix, Pass pass) {
            Op o;
            o.name = f.name + suffix;
            o.kind = f.kind;
            o.pass = pass;
            o.split = f.split;
            o.layer = f.layer;
            o.gemm = f.gemm;
            o.attention = f.attention;
            o.experts = f.experts;
            o.comm = f.comm;
            o.devices = f.devices;
            o.weights = f.weights;
            return o;
        };
        // Gradients are BF16 activations shaped like the forward tensors.
        auto grads = [](const std::vector<OpTensor>& ts) {
            std::vector<OpTensor> out;
            for (const auto& t : ts) {
                if (t.dtype == DType::I64 || t.dtype == DType::I32) continue;
                out.push_back(OpTensor{t.name + ".grad", t.shape, DType::BF16});
            }
            return out;
        };
        if (f.kind != OpKind::Embedding) {
            Op b = derive(".grad_input", Pass::BackwardInput);
            b.inputs = grads(f.outputs);
            if (f.kind == OpKind::Loss) b.inputs = {tensor(f.name, f.outputs[0].shape, DType::F32)};
            b.outputs = grads(f.inputs);
            b.cost = backward_input_cost(f.kind, f.cost);
            b.per_device = backward_input_cost(f.kind, f.per_device);
            set_backward_payload(c_, f, b);
            if (b.outputs.empty()) b.outputs = {tensor(b.name, {1}, DType::F32)};
            OpVertex bv = g_.add(std::move(b), deps);
            bwd_of[v] = bv;
        }
        if (!f.weights.empty()) {
            Op w = derive(".grad_weight", Pass::BackwardWeight);
            w.inputs = grads(f.outputs);
            for (const auto& t : f.inputs)
                w.inputs.push_back(t);
            double params = 0;
            for (const auto& wr : f.weights)
                params += static_cast<double>(wr.params());
            w.cost = backward_weight_cost(c_, f, f.cost);
            w.per_device = backward_weight_cost(c_, f, f.per_device);
            for (const auto& wr : f.weights) {
                w.outputs.push_back(OpTensor{wr.name + ".grad", wr.shape, DType::F32});
            }
            OpVertex wv = g_.add(std::move(w), deps);
            // Gradient synchronisation group: the layer (or top-level module), with routed
            // experts separate (they are replicated over devices/ep, not over DP).
            const bool expert = f.kind == OpKind::GroupedGemm;
            std::string gname;
            if (f.layer >= 0) {
                gname = "grad." + layer_prefix(c_, f.layer) + (expert ? ".moe.experts" : "");
            } else {
                gname = "grad." + f.name;
            }
            auto [gi, inserted] = group_index.try_emplace(gname, groups.size());
            if (inserted) {
                SyncGroup sg;
                sg.name = gname;
                sg.layer = f.layer;
                sg.replicas = gradient_replicas(p_, expert);
                groups.push_back(std::move(sg));
            }
            SyncGroup& sg = groups[gi->second];
            sg.w_ops.push_back(wv);
            // Parameters held per device (models/parallel).
            const double per_dev = device_params(c_, p_, f, params);
            sg.params += per_dev;
            // absorbed attention reads wkv_b twice; count its parameters once
            if (f.role == OpRole::AbsorbedOutput) sg.params -= per_dev;
        }
    }
    for (SyncGroup& sg : groups) {
        if (sg.replicas <= 1) continue;
        Op op;
        op.name = sg.name;
        op.kind = OpKind::AllReduce;
        op.pass = Pass::GradSync;
        op.split = Split::Collective;
        op.layer = sg.layer;
        const auto n_params = static_cast<int64_t>(std::llround(sg.params));
        op.inputs = {tensor(sg.name + ".local", {n_params}, DType::F32)};
        op.outputs = {tensor(sg.name + ".synced", {n_params}, DType::F32)};
        op.comm = CommGroup{sg.replicas, p_.devices / sg.replicas, DType::F32};
        op.devices = p_.devices;
        op.per_device = grad_sync_share(sg.params, sg.replicas);
        op.cost = op.per_device;
        op.cost.comm_bytes *= static_cast<double>(p_.devices);
        op.cost.act_read_bytes *= static_cast<double>(p_.devices);
        op.cost.act_write_bytes *= static_cast<double>(p_.devices);
        op.cost.vector_ops *= static_cast<double>(p_.devices);
        g_.add(std::move(op), sg.w_ops);
    }
}

}  // namespace

double backward_work_multiple(OpKind kind, Pass pass) {
    return kind == OpKind::MlaAttention && pass == Pass::BackwardInput ? 2.0 : 1.0;
}

// ---- OpGraph ------------------------------------------------------------------------------

std::optional<OpVertex> OpGraph::producer(std::string_view tensor_name) const {
    auto it = producer_.find(std::string(tensor_name));
    if (it == producer_.end()) return std::nullopt;
    return it->second;
}

std::optional<OpVertex> OpGraph::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

OpVertex OpGraph::add(Op op, std::span<const OpVertex> extra_deps) {
    if (by_name_.count(op.name) != 0) {
        throw std::logic_error("op graph: duplicate op name " + op.name);
    }
    std::vector<OpVertex> preds;
    for (const auto& in : op.inputs) {
        auto it = producer_.find(in.name);
        if (it != producer_.end()) preds.push_back(it->second);
    }
    preds.insert(preds.end(), extra_deps.begin(), extra_deps.end());
    std::sort(preds.begin(), preds.end());
    preds.erase(std::unique(preds.begin(), preds.end()), preds.end());
    const std::string name = op.name;
    std::vector<std::string> outs;
    for (const auto& t : op.outputs)
        outs.push_back(t.name);
    const OpVertex v = boost::add_vertex(std::move(op), dag_);
    for (OpVertex u : preds)
        boost::add_edge(u, v, dag_);
    by_name_.emplace(name, v);
    for (auto& t : outs)
        producer_.emplace(std::move(t), v);
    return v;
}

std::vector<OpVertex> OpGraph::topological_order() const {
    const size_t n = boost::num_vertices(dag_);
    std::vector<size_t> indegree(n, 0);
    for (auto [e, end] = boost::edges(dag_); e != end; ++e)
        ++indegree[boost::target(*e, dag_)];
    // Smallest vertex index first among ready vertices: deterministic and close to the
    // insertion order the builder used.
    std::priority_queue<OpVertex, std::vector<OpVertex>, std::greater<>> ready;
    for (OpVertex v = 0; v < n; ++v) {
        if (indegree[v] == 0) ready.push(v);
    }
    std::vector<OpVertex> order;
    order.reserve(n);
    while (!ready.empty()) {
        OpVertex v = ready.top();
        ready.pop();
        order.push_back(v);
        for (auto [e, end] = boost::out_edges(v, dag_); e != end; ++e) {
            if (--indegree[boost::target(*e, dag_)] == 0) ready.push(boost::target(*e, dag_));
        }
    }
    if (order.size() != n) throw std::logic_error("op graph: cycle");
    return order;
}

// ---- validation and entry points ------------------------------------------------------------

void validate_step(const ModelConfig& c, const StepSpec& s) {
    const ParallelPlan& p = s.plan;
    auto bad = [](std::string_view field, const std::string& problem) {
        throw_input_error("", field, problem);
    };
    auto positive = [&](std::string_view field, int64_t v) {
        if (v < 1) bad(field, "must be >= 1 (got " + std::to_string(v) + ")");
    };
    positive("--batch", s.batch);
    positive("--seq", s.seq);
    positive("--tp", p.tp);
    positive("--ep", p.ep);
    positive("--dp", p.dp);
    positive("--devices", p.devices);
    if (s.context < 0) bad("--context", "must be >= 0 (got " + std::to_string(s.context) + ")");
    if (p.redundant_experts < 0) bad("--redundant-experts", "must be >= 0");
    if (s.phase == Phase::Decode && s.seq != 1) {
        bad("--seq", "decode processes one new token per sequence; use --context for the cache");
    }
    if (s.mtp && !s.stage.last) {
        bad("--mtp", "the MTP modules run on the last pipeline stage");
    }
    if (s.phase == Phase::Train && s.context != 0) {
        bad("--context", "a training step has no KV cache (got " + std::to_string(s.context) + ")");
    }
    const int64_t n_mtp = s.mtp ? c.num_nextn_predict_layers : 0;
    if (s.mtp && c.num_nextn_predict_layers == 0) {
        bad("--mtp", "model " + std::string(c.short_name()) + " has no MTP module");
    }
    const int64_t positions = s.context + (s.phase == Phase::Decode ? 1 + n_mtp : s.seq);
    if (positions > c.max_position_embeddings) {
        bad("--context", "context + new tokens = " + std::to_string(positions) +
                             " exceeds max_position_embeddings " +
                             std::to_string(c.max_position_embeddings));
    }
    auto divides = [&](std::string_view field, int64_t d, int64_t n, std::string_view what) {
        if (n % d != 0) {
            bad(field, std::to_string(d) + " does not divide " + std::string(what) + " (" +
                           std::to_string(n) + ")");
        }
    };
    if (p.tp * p.dp != p.devices) {
        bad("--devices", "tp x dp must equal devices (" + std::to_string(p.tp) + " x " +
                             std::to_string(p.dp) + " != " + std::to_string(p.devices) + ")");
    }
    divides("--tp", p.tp, c.num_attention_heads, "num_attention_heads");
    divides("--tp", p.tp, c.vocab_size, "vocab_size");
    divides("--tp", p.tp, c.intermediate_size, "intermediate_size");
    if (c.n_shared_experts > 0) {
        divides("--tp", p.tp, c.n_shared_experts * c.moe_intermediate_size,
                "the shared experts' width");
    }
    if (p.ep > 1) {
        if (c.n_routed_experts == 0) bad("--ep", "model has no routed experts");
        divides("--ep", p.ep, p.devices, "the number of devices");
        divides(
            "--ep", p.ep, c.n_routed_experts + p.redundant_experts,
            p.redundant_experts > 0 ? "n_routed_experts + redundant experts" : "n_routed_experts");
    } else {
        if (p.redundant_experts > 0)
            bad("--redundant-experts", "needs expert parallelism (--ep > 1)");
        if (c.n_routed_experts > 0)
            divides("--tp", p.tp, c.moe_intermediate_size, "moe_intermediate_size");
    }
}

OpGraph build_op_graph(const ModelConfig& config, const StepSpec& step) {
    validate_step(config, step);
    StepSpec s = step;
    if (s.phase == Phase::Train) s.logits_all_positions = true;
    OpGraph graph(config, s);
    Builder(graph).build();
    return graph;
}

void apply_expert_loads(OpGraph& graph, int64_t layer, std::span<const double> tokens_per_expert) {
    const ModelConfig& c = graph.config();
    const std::string field = "expert_loads.layer " + std::to_string(layer);
    if (layer < 0 || layer >= c.stored_layers() || !c.is_moe_layer(layer) ||
        !graph.find(layer_prefix(c, layer) + ".moe.experts.w1")) {
        throw_input_error("", field, "no routed experts in this layer of the graph");
    }
    if (static_cast<int64_t>(tokens_per_expert.size()) != c.n_routed_experts) {
        throw_input_error("", field,
                          "expected " + std::to_string(c.n_routed_experts) + " counts, got " +
                              std::to_string(tokens_per_expert.size()));
    }
    for (size_t e = 0; e < tokens_per_expert.size(); ++e) {
        const double v = tokens_per_expert[e];
        if (!std::isfinite(v) || v < 0) {
            throw_input_error("", field + " expert " + std::to_string(e),
                              "token count must be finite and >= 0");
        }
    }
    Builder::set_expert_costs(graph, layer, tokens_per_expert);
}

}  // namespace dssim::models
