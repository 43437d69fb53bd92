// Shapes under a parallel plan (parallel.h). Every rule that divides an op, a weight, the KV
// cache or a collective over devices lives here; docs/model-graph.md ("Parallel plan") writes
// them out. The formulas keep the exact floating-point operation order the op graph and the
// simulator have always used, so their outputs are unchanged bit for bit.
#include "dssim/models/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>

#include "dssim/base/error.h"
#include "graph_constants.h"

namespace dssim::models {

namespace {

using detail::ceil_div;
using detail::kAct;
using detail::kActTile;
using detail::kGradBytes;

// The busiest rank's pairs (per replica group) and active slots of an expert op.
struct BusyRank {
    double pairs = 0;
    double active = 0;
};
// The first rank with the most pairs (0 for an empty record).
size_t busiest(const ExpertLoad& load) {
    const auto& t = load.tokens_per_device;
    size_t best = 0;
    for (size_t r = 1; r < t.size(); ++r) {
        if (t[r] > t[best]) best = r;
    }
    return best;
}

BusyRank busy_rank(const ParallelPlan& p, const ExpertLoad& load) {
    const size_t r = busiest(load);
    // devices / ep replicas of the expert set each serve an equal share of the tokens.
    const double groups = static_cast<double>(p.devices / p.ep);
    BusyRank b;
    b.pairs = load.tokens_per_device[r] / groups;
    b.active = static_cast<double>(load.active_slots_per_device[r]);
    return b;
}

double total_pairs(const ExpertLoad& load) {
    double pairs = 0;
    for (double v : load.tokens_per_expert)
        pairs += v;
    return pairs;
}

OpCost grouped_gemm_share(const ModelConfig& c, const StepSpec& s, const Op& op) {
    const ParallelPlan& p = s.plan;
    const double tp = static_cast<double>(p.tp);
    const double f_dp = dp_fraction(s);
    // Without EP the down projection (w2) is the row-parallel one.
    const bool down = op.split == Split::RowParallel;
    const double k_dim = static_cast<double>(op.gemm.k), n_dim = static_cast<double>(op.gemm.n);
    OpCost d;
    if (p.ep > 1) {
        const BusyRank busy = busy_rank(p, op.experts);
        const double in_bytes = op.inputs[0].dtype == DType::F8E4M3 ? 1.0 + 4.0 / kActTile : kAct;
        const double expert_bytes = static_cast<double>(op.weights[0].stored_bytes(c)) /
                                    static_cast<double>(c.n_routed_experts);
        d.flops = 2.0 * busy.pairs * n_dim * k_dim;
        d.weight_bytes = expert_bytes * busy.active;
        d.act_read_bytes = busy.pairs * k_dim * in_bytes;
        d.act_write_bytes = busy.pairs * n_dim * kAct;
    } else {
        // Replicated per DP rank, tensor-parallel within: w1/w3 column, w2 row.
        d.flops = op.cost.flops * f_dp / tp;
        d.weight_bytes = op.cost.weight_bytes / tp;
        d.act_read_bytes = op.cost.act_read_bytes * f_dp / (down ? tp : 1.0);
        d.act_write_bytes = op.cost.act_write_bytes * f_dp / (down ? 1.0 : tp);
    }
    return d;
}

OpCost expert_swiglu_share(const StepSpec& s, const Op& op) {
    const ParallelPlan& p = s.plan;
    const bool ep = p.ep > 1;
    double f = dp_fraction(s) / static_cast<double>(p.tp);
    if (ep) {
        const double pairs = total_pairs(op.experts);
        f = pairs > 0 ? busy_rank(p, op.experts).pairs / pairs : 0.0;
    }
    OpCost d;
    d.vector_ops = op.cost.vector_ops * f;
    d.act_read_bytes = op.cost.act_read_bytes * f;
    d.act_write_bytes = op.cost.act_write_bytes * f;
    return d;
}

// All-to-all: each token-expert pair whose expert is on another rank crosses the network once
// (the per-pair form of DeepEP's low-latency kernels). Uniform sources: a rank sends (ep-1)/ep
// of its pairs; the busiest rank receives the remote share of its load.
OpCost all_to_all_share(const ModelConfig& c, const StepSpec& s, const Op& op) {
    const ParallelPlan& p = s.plan;
    const double pairs = total_pairs(op.experts);
    const double per_pair = ep_bytes_per_copy(c, op.kind);
    const double e = static_cast<double>(p.ep);
    const double remote = (e - 1.0) / e;
    // Source tokens: each DP rank's share, spread over its TP ranks (sequence parallel).
    const double src_pairs = pairs * dp_fraction(s) / static_cast<double>(p.tp);
    const double busy_pairs = busy_rank(p, op.experts).pairs;
    const double sent = src_pairs * per_pair * remote;
    const double received = busy_pairs * per_pair * remote;
    OpCost d;
    d.comm_bytes = std::max(sent, received);
    d.act_read_bytes = std::max(src_pairs, busy_pairs) * per_pair;
    d.act_write_bytes = d.act_read_bytes;
    return d;
}

// Ring all-reduce over the TP group: each member sends 2(n-1)/n of its buffer.
OpCost all_reduce_share(const StepSpec& s, const Op& op) {
    const double f_dp = dp_fraction(s);
    const double n = static_cast<double>(s.plan.tp);
    const double payload = op.cost.act_read_bytes;
    OpCost d;
    d.comm_bytes = 2.0 * (n - 1.0) / n * payload * f_dp;
    d.act_read_bytes = payload * f_dp;
    d.act_write_bytes = payload * f_dp;
    d.vector_ops = op.cost.vector_ops / n * f_dp;
    return d;
}

// All-gather of the vocabulary shards of the logits over the TP group.
OpCost all_gather_share(const StepSpec& s, const Op& op) {
    const double f_dp = dp_fraction(s);
    const double n = static_cast<double>(s.plan.tp);
    const double full = op.cost.act_read_bytes;
    OpCost d;
    d.comm_bytes = (n - 1.0) / n * full * f_dp;
    d.act_read_bytes = full / n * f_dp;
    d.act_write_bytes = full * f_dp;
    return d;
}

}  // namespace

double dp_fraction(const StepSpec& step) {
    const int64_t b = step.batch;
    return static_cast<double>(ceil_div(b, step.plan.dp)) / static_cast<double>(b);
}

int64_t device_rows(const StepSpec& step, int64_t rows) {
    return ceil_div(rows, step.plan.dp);
}

OpCost device_share(const ModelConfig& config, const StepSpec& step, const Op& op) {
    if (op.pass != Pass::Forward) {
        throw std::logic_error("device_share: " + op.name + " is not a forward op");
    }
    switch (op.kind) {
        case OpKind::AllReduce:
            return all_reduce_share(step, op);
        case OpKind::AllGather:
            return all_gather_share(step, op);
        case OpKind::Dispatch:
        case OpKind::Combine:
            return all_to_all_share(config, step, op);
        case OpKind::GroupedGemm:
            return grouped_gemm_share(config, step, op);
        default:
            break;
    }
    if (op.kind == OpKind::SwiGLU && !op.experts.tokens_per_expert.empty()) {
        return expert_swiglu_share(step, op);
    }
    const double f_dp = dp_fraction(step);
    const double tp = static_cast<double>(step.plan.tp);
    const OpCost& c = op.cost;
    OpCost d = c;
    auto scale_tokens = [&](double in_div, double out_div, double compute_div) {
        d.flops = c.flops * f_dp / compute_div;
        d.vector_ops = c.vector_ops * f_dp / compute_div;
        d.act_read_bytes = c.act_read_bytes * f_dp / in_div;
        d.act_write_bytes = c.act_write_bytes * f_dp / out_div;
        d.kv_read_bytes = c.kv_read_bytes * f_dp;
        d.kv_write_bytes = c.kv_write_bytes * f_dp;
    };
    switch (op.split) {
        case Split::DataParallel:
            scale_tokens(1, 1, 1);
            break;
        case Split::ColumnParallel:
            scale_tokens(1, tp, tp);
            d.weight_bytes = c.weight_bytes / tp;
            break;
        case Split::RowParallel:
            scale_tokens(tp, 1, tp);
            d.weight_bytes = c.weight_bytes / tp;
            break;
        case Split::HeadParallel:
            scale_tokens(tp, tp, tp);
            d.weight_bytes = c.weight_bytes / tp;
            // The absorbed latent cache is shared by all heads: every TP rank reads it.
            if (step.attention == AttentionMode::Naive) {
                d.kv_read_bytes /= tp;
                d.kv_write_bytes /= tp;
            }
            break;
        case Split::VocabParallel:
            if (op.kind == OpKind::Embedding) {
                scale_tokens(1, 1, 1);
                d.weight_bytes = c.weight_bytes * f_dp / tp;
            } else {
                scale_tokens(1, tp, tp);
                d.weight_bytes = c.weight_bytes / tp;
            }
            break;
        case Split::ExpertParallel:
        case Split::Collective:
            break;
    }
    return d;
}

GemmDims device_gemm(const StepSpec& step, const Op& op) {
    const int64_t tp = step.plan.tp;
    GemmDims g = op.gemm;
    g.m = device_rows(step, op.gemm.m);
    switch (op.split) {
        case Split::ColumnParallel:
        case Split::VocabParallel:
            g.n /= tp;
            break;
        case Split::RowParallel:
            g.k /= tp;
            break;
        case Split::HeadParallel:
            g.batch /= tp;
            break;
        default:
            break;
    }
    return g;
}

DeviceAttention device_attention(const StepSpec& step, const Op& op) {
    const AttentionDims& a = op.attention;
    const int64_t tp = step.plan.tp;
    DeviceAttention d;
    d.sequences = ceil_div(a.sequences, step.plan.dp);
    d.heads = a.heads / tp;
    d.queries_per_seq = a.queries_per_seq;
    d.keys_per_seq = a.context + a.queries_per_seq;
    d.qk_dim = a.qk_dim;
    d.v_dim = a.v_dim;
    d.cache_bytes_per_token = static_cast<double>(a.cache_bytes_per_token);
    if (step.attention == AttentionMode::Naive) d.cache_bytes_per_token /= static_cast<double>(tp);
    return d;
}

ExpertPlacement place_experts(std::span<const double> load, int64_t ep, int64_t redundant) {
    const auto ne = static_cast<int64_t>(load.size());
    ExpertPlacement pl;
    pl.tokens_per_device.assign(static_cast<size_t>(ep), 0.0);
    pl.active_slots_per_device.assign(static_cast<size_t>(ep), 0);
    if (redundant == 0) {
        const int64_t per = ne / ep;
        for (int64_t e = 0; e < ne; ++e) {
            pl.tokens_per_device[static_cast<size_t>(e / per)] += load[static_cast<size_t>(e)];
            if (load[static_cast<size_t>(e)] > 0)
                ++pl.active_slots_per_device[static_cast<size_t>(e / per)];
        }
        return pl;
    }
    std::vector<int64_t> order(static_cast<size_t>(ne));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return load[static_cast<size_t>(a)] > load[static_cast<size_t>(b)];
    });
    std::vector<double> slot_load(load.begin(), load.end());
    std::vector<double> slots;  // loads of all slots
    for (int64_t i = 0; i < redundant && i < ne; ++i) {
        slot_load[static_cast<size_t>(order[static_cast<size_t>(i)])] /= 2.0;
    }
    for (int64_t e = 0; e < ne; ++e)
        slots.push_back(slot_load[static_cast<size_t>(e)]);
    for (int64_t i = 0; i < redundant && i < ne; ++i) {
        slots.push_back(slot_load[static_cast<size_t>(order[static_cast<size_t>(i)])]);
    }
    std::vector<size_t> sorder(slots.size());
    std::iota(sorder.begin(), sorder.end(), size_t{0});
    std::stable_sort(sorder.begin(), sorder.end(),
                     [&](size_t a, size_t b) { return slots[a] > slots[b]; });
    const int64_t cap = (ne + redundant) / ep;
    std::vector<int64_t> used(static_cast<size_t>(ep), 0);
    for (size_t s : sorder) {
        size_t best = 0;
        bool found = false;
        for (size_t d = 0; d < static_cast<size_t>(ep); ++d) {
            if (used[d] >= cap) continue;
            if (!found || pl.tokens_per_device[d] < pl.tokens_per_device[best]) {
                best = d;
                found = true;
            }
        }
        ++used[best];
        pl.tokens_per_device[best] += slots[s];
        if (slots[s] > 0) ++pl.active_slots_per_device[best];
    }
    return pl;
}

ExpertLoad expert_load_under_plan(const ModelConfig& config,
                                  const ParallelPlan& plan,
                                  std::span<const double> tokens_per_expert) {
    const bool ep = plan.ep > 1;
    const int64_t redundant = ep ? plan.redundant_experts : 0;
    ExpertPlacement pl = place_experts(tokens_per_expert, plan.ep, redundant);
    ExpertLoad info;
    info.tokens_per_expert.assign(tokens_per_expert.begin(), tokens_per_expert.end());
    info.tokens_per_device = std::move(pl.tokens_per_device);
    info.active_slots_per_device = std::move(pl.active_slots_per_device);
    info.slots_per_device = (config.n_routed_experts + redundant) / plan.ep;
    return info;
}

int64_t busiest_rank(const Op& op) {
    return static_cast<int64_t>(busiest(op.experts));
}

DeviceGroupedGemm device_grouped_gemm(const ModelConfig& config,
                                      const StepSpec& step,
                                      const Op& op,
                                      int64_t rank) {
    const ParallelPlan& p = step.plan;
    DeviceGroupedGemm g;
    g.n = op.gemm.n;
    g.k = op.gemm.k;
    const ExpertLoad& load = op.experts;
    if (p.ep > 1) {
        const double groups = static_cast<double>(p.devices / p.ep);
        if (p.redundant_experts == 0) {
            // Static placement: rank r holds experts [r*per, (r+1)*per).
            const int64_t per = config.n_routed_experts / p.ep;
            for (int64_t e = rank * per; e < (rank + 1) * per; ++e) {
                g.rows_per_group.push_back(load.tokens_per_expert[static_cast<size_t>(e)] / groups);
            }
        } else {
            // EPLB placement is internal to the graph: spread the rank's pairs evenly over its
            // slots.
            const int64_t slots = load.slots_per_device;
            const double pairs = load.tokens_per_device[static_cast<size_t>(rank)] / groups;
            g.rows_per_group.assign(static_cast<size_t>(slots), pairs / static_cast<double>(slots));
        }
    } else {
        if (op.split == Split::ColumnParallel) g.n /= p.tp;
        if (op.split == Split::RowParallel) g.k /= p.tp;
        for (double e : load.tokens_per_expert)
            g.rows_per_group.push_back(e / static_cast<double>(p.dp));
    }
    return g;
}

double dispatch_bytes_per_copy(int64_t hidden) {
    return static_cast<double>(hidden + 4 * ceil_div(hidden, kActTile));
}

double combine_bytes_per_copy(int64_t hidden) {
    return static_cast<double>(hidden) * kAct;
}

double ep_bytes_per_copy(const ModelConfig& config, OpKind kind) {
    return kind == OpKind::Dispatch ? dispatch_bytes_per_copy(config.hidden_size)
                                    : combine_bytes_per_copy(config.hidden_size);
}

AllToAllShape all_to_all_shape(const ModelConfig& config, const StepSpec& step, const Op& op) {
    const ParallelPlan& p = step.plan;
    AllToAllShape a;
    a.group = p.ep;
    // Forward dispatch carries FP8 tokens; combine and every gradient all-to-all carry BF16.
    a.bytes_per_copy = op.comm.dtype == DType::F8E4M3 ? dispatch_bytes_per_copy(config.hidden_size)
                                                      : combine_bytes_per_copy(config.hidden_size);
    a.copies_per_device = total_pairs(op.experts) * dp_fraction(step) / static_cast<double>(p.tp);
    const double groups = static_cast<double>(p.devices / p.ep);
    const double e = static_cast<double>(p.ep);
    for (double t : op.experts.tokens_per_device)
        a.rank_pair_copies.push_back(t / groups / e);
    return a;
}

TokenFanout expected_fanout(const ModelConfig& config, int64_t ep, int64_t ranks_per_node) {
    return expected_fanout(routing_of(config), ep, ranks_per_node);
}

TokenFanout expected_fanout(const Routing& routing, int64_t ep, int64_t ranks_per_node) {
    TokenFanout f;
    const int64_t ne = routing.experts, k = routing.top_k;
    f.copies = static_cast<double>(k);
    if (ne == 0 || k == 0 || ep < 1) return f;
    const int64_t groups = std::max<int64_t>(1, routing.groups);
    const int64_t kept = std::clamp<int64_t>(routing.groups_kept, 1, groups);
    const int64_t per_group = ne / groups;
    const int64_t pool = kept * per_group;  // experts a token may be routed to
    const int64_t per_rank = std::max<int64_t>(1, ne / ep);
    const int64_t rpn = std::max<int64_t>(1, ranks_per_node);
    // log C(n, r) for the hypergeometric "none of these experts chosen" probabilities.
    auto log_choose = [](int64_t n, int64_t r) {
        if (r < 0 || r > n) return -std::numeric_limits<double>::infinity();
        return std::lgamma(static_cast<double>(n + 1)) - std::lgamma(static_cast<double>(r + 1)) -
               std::lgamma(static_cast<double>(n - r + 1));
    };
    // P(a set of experts holding `hit` experts in each of some groups receives none of the
    // token's k): enumerate how many of the token's kept groups the set's groups are, then the
    // k draws among the pool avoid the set's experts in those groups.
    // `hits[g]` = experts of the set in group g.
    auto p_none = [&](const std::vector<int64_t>& hits) {
        // Groups touched by the set; the kept groups are a uniform subset of size `kept`.
        std::vector<int64_t> touched;
        for (int64_t h : hits)
            if (h > 0) touched.push_back(h);
        const auto nt = static_cast<int64_t>(touched.size());
        // Sum over subsets of touched groups that are kept: by symmetry only the multiset of
        // hits matters; enumerate subsets directly (nt is small: a rank or node spans few
        // groups).
        double total = 0;
        for (uint64_t mask = 0; mask < (uint64_t{1} << nt); ++mask) {
            int64_t chosen = 0, blocked = 0;
            for (int64_t i = 0; i < nt; ++i) {
                if (mask & (uint64_t{1} << i)) {
                    ++chosen;
                    blocked += touched[static_cast<size_t>(i)];
                }
            }
            // P(exactly these touched groups are among the kept ones).
            const double lp_groups =
                log_choose(groups - nt, kept - chosen) - log_choose(groups, kept);
            if (!std::isfinite(lp_groups)) continue;
            const double lp_avoid = log_choose(pool - blocked, k) - log_choose(pool, k);
            if (!std::isfinite(lp_avoid)) continue;
            total += std::exp(lp_groups + lp_avoid);
        }
        return total;
    };
    auto expected_sets = [&](int64_t experts_per_set) {
        double sum = 0;
        for (int64_t first = 0; first < ne; first += experts_per_set) {
            std::vector<int64_t> hits(static_cast<size_t>(groups), 0);
            for (int64_t e = first; e < std::min(ne, first + experts_per_set); ++e)
                ++hits[static_cast<size_t>(e / per_group)];
            sum += 1.0 - p_none(hits);
        }
        return sum;
    };
    f.ranks = expected_sets(per_rank);
    f.nodes = expected_sets(per_rank * rpn);
    return f;
}

RingShape ring_shape(const Op& op) {
    RingShape r;
    r.group = op.comm.size;
    const double n = static_cast<double>(op.comm.size);
    if (op.kind == OpKind::AllReduce) {
        r.steps = 2 * (op.comm.size - 1);
        r.step_bytes = op.per_device.act_read_bytes / n;
    } else {
        r.steps = op.comm.size - 1;
        r.step_bytes = r.steps > 0 ? op.per_device.comm_bytes / static_cast<double>(r.steps) : 0.0;
    }
    r.hbm_bytes = op.per_device.act_read_bytes + op.per_device.act_write_bytes;
    return r;
}

ModelConfig pipeline_chunk(const ModelConfig& config,
                           int64_t moe_layers,
                           std::string_view file,
                           std::string_view field) {
    int64_t available = 0;
    for (int64_t l = 0; l < config.num_hidden_layers; ++l)
        available += config.is_moe_layer(l) ? 1 : 0;
    if (moe_layers < 1 || moe_layers > available) {
        throw_input_error(file, field,
                          "must be in [1, " + std::to_string(available) + "] (the MoE layers of " +
                              std::string(config.short_name()) + "; got " +
                              std::to_string(moe_layers) + ")");
    }
    ModelConfig chunk = config;
    chunk.num_hidden_layers = moe_layers;
    chunk.first_k_dense_replace = 0;
    chunk.moe_layer_freq = 1;
    chunk.num_nextn_predict_layers = 0;
    return chunk;
}

int64_t gradient_replicas(const ParallelPlan& plan, bool routed_experts) {
    return routed_experts && plan.ep > 1 ? plan.devices / plan.ep : plan.dp;
}

double device_params(const ModelConfig& config,
                     const ParallelPlan& plan,
                     const Op& op,
                     double params) {
    const bool expert = op.kind == OpKind::GroupedGemm;
    if (expert && plan.ep > 1) {
        return params * static_cast<double>(plan.expert_slots_per_device(config)) /
               static_cast<double>(config.n_routed_experts);
    }
    return op.split == Split::DataParallel ? params : params / static_cast<double>(plan.tp);
}

OpCost grad_sync_share(double params_per_device, int64_t replicas) {
    const double payload = params_per_device * kGradBytes;
    const double n = static_cast<double>(replicas);
    OpCost d;
    d.comm_bytes = 2.0 * (n - 1.0) / n * payload;
    d.act_read_bytes = payload;
    d.act_write_bytes = payload;
    d.vector_ops = params_per_device * (n - 1.0) / n;
    return d;
}

DeviceMemoryShare device_memory(std::span<const OpGraph* const> micro_batches,
                                int64_t sequences,
                                int64_t new_tokens_per_sequence) {
    DeviceMemoryShare mu;
    if (micro_batches.empty()) return mu;
    const OpGraph& g = *micro_batches[0];
    const ModelConfig& c = g.config();
    const StepSpec& s = g.step();
    const ParallelPlan& p = s.plan;
    const double tp = static_cast<double>(p.tp);
    std::set<std::string> seen;
    for (OpVertex v : g.topological_order()) {
        const Op& op = g.op(v);
        for (const auto& w : op.weights) {
            if (!seen.insert(w.name).second) continue;
            const double bytes = static_cast<double>(w.stored_bytes(c));
            double share = bytes;
            if (op.kind == OpKind::GroupedGemm) {
                share = p.ep > 1 ? bytes / static_cast<double>(c.n_routed_experts) *
                                       static_cast<double>(op.experts.slots_per_device)
                                 : bytes / tp;
            } else if (op.split != Split::DataParallel) {
                share = bytes / tp;
            }
            mu.weights += share;
            if (w.block_scaled) {
                const double fraction = bytes > 0 ? share / bytes : 0.0;
                const double elements = static_cast<double>(w.params());
                mu.fp8_weight_elements += elements * fraction;
                mu.fp8_weight_scale_bytes += (bytes - elements) * fraction;
            }
        }
        if (op.kind == OpKind::MlaAttention && op.pass == Pass::Forward) {
            // Every sequence keeps its cached and new tokens in the latent form, whichever form
            // computes the step: a serving system caches the latent (shared by the heads, so
            // TP ranks each hold it); naive attention's per-head K/V are transient activations
            // of one layer.
            const int64_t n_new = new_tokens_per_sequence > 0 ? new_tokens_per_sequence
                                                              : op.attention.queries_per_seq;
            const auto per_token = static_cast<double>(latent_cache_bytes_per_token(
                op.attention.latent_dim, op.attention.rope_dim, s.kv_cache));
            mu.kv_cache +=
                static_cast<double>(sequences) * static_cast<double>(s.context + n_new) * per_token;
        }
    }
    // Activations: the largest op's inputs and outputs, once per micro-batch in flight.
    for (const OpGraph* mb : micro_batches) {
        double peak = 0;
        for (OpVertex v : mb->topological_order()) {
            const OpCost& d = mb->op(v).per_device;
            peak = std::max(peak, d.act_read_bytes + d.act_write_bytes);
        }
        mu.activations += peak;
    }
    return mu;
}

}  // namespace dssim::models
