// Step plan: micro-batch graphs, per-op timings from the device cost model, collectives as
// transfer patterns, and per-device memory. docs/simulator.md ("From op graph to device work")
// states every mapping rule implemented here.
#include "plan.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "dssim/base/error.h"

namespace dssim::sim::detail {

using devices::Precision;
using models::DType;
using models::OpKind;
using models::Split;

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

// A matmul runs in FP8 only when both its weights and its input are FP8 (the act_quant +
// fp8_gemm path); FP8 weights with BF16 inputs are dequantised (the demo's BF16 path).
Precision matmul_precision(const models::Op& op) {
    const bool w8 = !op.weights.empty() && op.weights[0].dtype == DType::F8E4M3;
    const bool a8 = !op.inputs.empty() && op.inputs[0].dtype == DType::F8E4M3;
    return w8 && a8 ? Precision::FP8 : Precision::BF16;
}

// Integer rows per group from fractional expected loads, keeping the total: floors plus one
// extra row for the largest remainders (ties: lower index). Balanced decode loads are often
// below one pair per expert; this makes `total` experts receive one token each instead of
// every expert receiving none.
std::vector<int64_t> integer_split(const std::vector<double>& load) {
    double sum = 0;
    for (double v : load)
        sum += v;
    const int64_t total = std::llround(sum);
    std::vector<int64_t> out(load.size());
    int64_t given = 0;
    for (size_t i = 0; i < load.size(); ++i) {
        out[i] = static_cast<int64_t>(std::floor(load[i]));
        given += out[i];
    }
    std::vector<size_t> order(load.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return load[a] - std::floor(load[a]) > load[b] - std::floor(load[b]);
    });
    for (size_t i = 0; given < total && i < order.size(); ++i, ++given)
        ++out[order[i]];
    return out;
}

OpTiming from_cost(const devices::OpCost& c, Unit unit) {
    OpTiming t;
    t.compute_s = c.compute_seconds;
    t.memory_s = c.memory_seconds;
    t.hbm_bytes = c.bytes;
    t.overhead_s = c.overhead_seconds;
    t.unit = unit;
    return t;
}

class PlanBuilder {
  public:
    PlanBuilder(const models::ModelConfig& model,
                const Hardware& hw,
                const Deployment& dep,
                const Workload& wl,
                const SimOptions& opt,
                Plan& plan)
        : c_(model), hw_(hw), dep_(dep), wl_(wl), opt_(opt), p_(plan) {}

    void build() {
        check_inputs();
        p_.cost =
            std::make_unique<devices::CostModel>(hw_.device, hw_.system, hw_.calibration, hw_.fp8);
        p_.hbm_bandwidth =
            hw_.device.memory.bandwidth.require("memory.bandwidth", "the simulator") * 1e9;
        if (hw_.device.memory.latency.known()) {
            p_.hbm_latency_s = *hw_.device.memory.latency.value * 1e-9;
        } else {
            note("memory.latency unknown: HBM latency omitted");
        }
        build_micro_batches();
        build_ops();
        account_memory();
        p_.topology =
            std::make_unique<Topology>(hw_.device, hw_.system, hw_.calibration, p_.devices);
        for (const auto& a : p_.topology->assumptions())
            note(a);
    }

  private:
    void note(const std::string& s) {
        if (std::find(p_.assumptions.begin(), p_.assumptions.end(), s) == p_.assumptions.end())
            p_.assumptions.push_back(s);
    }

    void check_inputs() {
        if (wl_.phase == models::Phase::Train) {
            throw_input_error("", "--phase", "the simulator runs prefill and decode steps");
        }
        if (dep_.micro_batches != 1 && dep_.micro_batches != 2) {
            throw_input_error("", "--micro-batches",
                              "must be 1 or 2 (got " + std::to_string(dep_.micro_batches) + ")");
        }
        if (dep_.devices < 1) throw_input_error("", "--devices", "must be >= 1");
        if (dep_.tp < 1) throw_input_error("", "--tp", "must be >= 1");
        if (dep_.ep < 1) throw_input_error("", "--ep", "must be >= 1");
        if (wl_.batch < 1) throw_input_error("", "--batch", "must be >= 1");
        if (wl_.phase == models::Phase::Prefill && wl_.input_len < 1) {
            throw_input_error("", "--input-len", "must be >= 1");
        }
        if (!(wl_.mtp_acceptance >= 0 && wl_.mtp_acceptance <= 1)) {
            throw_input_error("", "--mtp-acceptance", "must be in [0, 1]");
        }
        p_.devices = dep_.devices;
        p_.tp = dep_.tp;
        p_.ep = dep_.ep;
        if (dep_.dp > 0) {
            p_.dp = dep_.dp;
        } else {
            if (dep_.devices % dep_.tp != 0) {
                throw_input_error("", "--tp",
                                  std::to_string(dep_.tp) + " does not divide " +
                                      std::to_string(dep_.devices) + " devices");
            }
            p_.dp = dep_.devices / dep_.tp;
        }
        const int64_t capacity = hw_.system.total_devices();
        if (!hw_.replicate_nodes && capacity > 0 && dep_.devices > capacity) {
            throw_input_error("", "--devices",
                              std::to_string(dep_.devices) + " exceeds the " +
                                  std::to_string(capacity) + " devices of system " +
                                  hw_.system.name);
        }
        p_.mode = opt_.mode;
        if (!opt_.expert_loads.empty() && opt_.mode == Mode::Symmetric) {
            throw_input_error("", "--mode",
                              "per-layer expert loads need full mode (symmetric mode assumes "
                              "balanced routing)");
        }
    }

    models::StepSpec step_for(int64_t sequences_per_device, int64_t seq, int64_t context) const {
        models::StepSpec s;
        s.phase = wl_.phase;
        s.batch = sequences_per_device * p_.dp;
        s.seq = seq;
        s.context = context;
        s.mtp = wl_.mtp;
        s.attention = wl_.attention;
        s.gemm = wl_.gemm;
        s.plan.tp = p_.tp;
        s.plan.ep = p_.ep;
        s.plan.dp = p_.dp;
        s.plan.devices = p_.devices;
        s.plan.redundant_experts = dep_.redundant_experts;
        return s;
    }

    void build_micro_batches() {
        const bool prefill = wl_.phase == models::Phase::Prefill;
        const int64_t seq = prefill ? wl_.input_len : 1;
        const int64_t b = wl_.batch;
        struct Part {
            int64_t seqs, len, context;
        };
        std::vector<Part> parts;
        token_split_ = false;
        if (dep_.micro_batches == 1) {
            parts.push_back({b, seq, wl_.context});
        } else if (b >= 2) {
            // Two halves of the sequences (the first gets the odd one).
            parts.push_back({b - b / 2, seq, wl_.context});
            parts.push_back({b / 2, seq, wl_.context});
        } else if (prefill && seq >= 2) {
            // One prompt per device: split its tokens; the second half attends to the first.
            parts.push_back({1, seq - seq / 2, wl_.context});
            parts.push_back({1, seq / 2, wl_.context + seq - seq / 2});
            token_split_ = true;
        } else {
            parts.push_back({b, seq, wl_.context});
            note("--micro-batches 2 needs at least 2 sequences per device in decode: ran 1");
        }
        std::shared_ptr<models::OpGraph> prev;
        Part prev_part{0, 0, 0};
        for (const Part& part : parts) {
            MicroBatch mb;
            if (prev && part.seqs == prev_part.seqs && part.len == prev_part.len &&
                part.context == prev_part.context) {
                mb.graph = prev;
            } else {
                mb.graph = std::make_shared<models::OpGraph>(
                    models::build_op_graph(c_, step_for(part.seqs, part.len, part.context)));
                apply_loads(*mb.graph, static_cast<double>(part.seqs * part.len) /
                                           static_cast<double>(b * seq));
            }
            mb.order = mb.graph->topological_order();
            mb.sequences_per_device = part.seqs;
            mb.tokens_per_device = part.seqs * part.len;
            prev = mb.graph;
            prev_part = part;
            p_.mbs.push_back(std::move(mb));
        }
    }

    void apply_loads(models::OpGraph& g, double fraction) {
        for (const auto& [layer, loads] : opt_.expert_loads) {
            std::vector<double> scaled(loads.size());
            for (size_t i = 0; i < loads.size(); ++i)
                scaled[i] = loads[i] * fraction;
            models::apply_expert_loads(g, layer, scaled);
        }
    }

    // ---- ops ------------------------------------------------------------------------------

    void build_ops() {
        const int n_mb = static_cast<int>(p_.mbs.size());
        std::vector<std::map<models::OpVertex, int32_t>> index(static_cast<size_t>(n_mb));
        for (int m = 0; m < n_mb; ++m) {
            const MicroBatch& mb = p_.mbs[static_cast<size_t>(m)];
            int64_t pos = 0;
            for (models::OpVertex v : mb.order) {
                PlanOp po;
                po.op = &mb.graph->op(v);
                po.micro_batch = m;
                po.stream = models::is_communication(po.op->kind) ? Stream::Comm : Stream::Compute;
                po.priority = pos * n_mb + m;
                ++pos;
                index[static_cast<size_t>(m)][v] = static_cast<int32_t>(p_.ops.size());
                p_.ops.push_back(std::move(po));
            }
        }
        auto link = [&](int32_t from, int32_t to) {
            p_.ops[static_cast<size_t>(from)].succ.push_back(to);
            ++p_.ops[static_cast<size_t>(to)].deps;
        };
        for (int m = 0; m < n_mb; ++m) {
            const MicroBatch& mb = p_.mbs[static_cast<size_t>(m)];
            const auto& dag = mb.graph->dag();
            for (models::OpVertex v : mb.order) {
                for (auto [e, end] = boost::out_edges(v, dag); e != end; ++e) {
                    link(index[static_cast<size_t>(m)][v],
                         index[static_cast<size_t>(m)][boost::target(*e, dag)]);
                }
            }
        }
        if (token_split_) {
            // The second half's attention reads the first half's keys of the same layer.
            const MicroBatch& a = p_.mbs[0];
            const MicroBatch& b = p_.mbs[1];
            for (models::OpVertex v : b.order) {
                const models::Op& op = b.graph->op(v);
                if (op.kind != OpKind::MlaAttention) continue;
                const std::string pre =
                    op.name.substr(0, op.name.size() - std::string(".core").size());
                for (const char* dep : {".kv_norm", ".rope_k", ".wkv_b"}) {
                    if (auto u = a.graph->find(pre + dep)) link(index[0][*u], index[1][v]);
                }
            }
        }
        // Symmetric mode simulates the busiest EP rank (the critical path); full mode times
        // expert ops per rank.
        for (PlanOp& po : p_.ops) {
            if (po.stream == Stream::Comm) {
                po.comm = static_cast<int32_t>(p_.comm.size());
                p_.comm.push_back(comm_info(*po.op));
                continue;
            }
            const bool expert = po.op->split == Split::ExpertParallel;
            if (expert && p_.mode == Mode::Full && p_.ep > 1) {
                po.per_rank = true;
                for (int64_t r = 0; r < p_.ep; ++r)
                    po.timing.push_back(time_op(*po.op, r));
            } else {
                po.timing.push_back(time_op(*po.op, busiest_rank(*po.op)));
            }
        }
    }

    static int64_t busiest_rank(const models::Op& op) {
        const auto& t = op.experts.tokens_per_device;
        int64_t best = 0;
        for (size_t r = 1; r < t.size(); ++r) {
            if (t[r] > t[static_cast<size_t>(best)]) best = static_cast<int64_t>(r);
        }
        return best;
    }

    // Per-device rows of a token-split op (the step holds dp equal DP shares).
    int64_t rows(int64_t global_rows) const { return ceil_div(global_rows, p_.dp); }

    void add_assumptions(const devices::OpCost& c) {
        for (const auto& a : c.assumptions)
            note(a);
    }

    OpTiming time_op(const models::Op& op, int64_t rank) {
        const devices::CostModel& cm = *p_.cost;
        const int64_t tp = p_.tp;
        switch (op.kind) {
            case OpKind::Gemm:
            case OpKind::Head:
            case OpKind::Gate: {
                int64_t m = rows(op.gemm.m), n = op.gemm.n, k = op.gemm.k, batch = op.gemm.batch;
                switch (op.split) {
                    case Split::ColumnParallel:
                    case Split::VocabParallel:
                        n /= tp;
                        break;
                    case Split::RowParallel:
                        k /= tp;
                        break;
                    case Split::HeadParallel:
                        batch /= tp;
                        break;
                    default:
                        break;
                }
                const Precision prec = matmul_precision(op);
                devices::OpCost c;
                if (batch > 1) {
                    // Per-head products (absorbed wkv_b halves): one kernel over `batch` groups.
                    devices::GroupedGemmShape s;
                    s.m_per_group.assign(static_cast<size_t>(batch), m);
                    s.n = n;
                    s.k = k;
                    s.dtype = prec;
                    c = cm.grouped_gemm_time(s);
                } else {
                    c = cm.gemm_time(devices::GemmShape{m, n, k, prec, Precision::BF16});
                }
                add_assumptions(c);
                OpTiming t = from_cost(c, Unit::Matrix);
                t.ideal_s = ideal(c);
                return t;
            }
            case OpKind::GroupedGemm: {
                devices::GroupedGemmShape s;
                s.n = op.gemm.n;
                s.k = op.gemm.k;
                s.dtype = matmul_precision(op);
                const auto& load = op.experts;
                std::vector<double> rows_per_group;
                if (p_.ep > 1) {
                    const double groups = static_cast<double>(p_.devices / p_.ep);
                    const int64_t slots = load.slots_per_device;
                    if (dep_.redundant_experts == 0) {
                        // Static placement: rank r holds experts [r*per, (r+1)*per).
                        const int64_t per = c_.n_routed_experts / p_.ep;
                        for (int64_t e = rank * per; e < (rank + 1) * per; ++e) {
                            rows_per_group.push_back(
                                load.tokens_per_expert[static_cast<size_t>(e)] / groups);
                        }
                    } else {
                        // EPLB placement is internal to the graph: spread the rank's pairs
                        // evenly over its slots.
                        const double pairs =
                            load.tokens_per_device[static_cast<size_t>(rank)] / groups;
                        rows_per_group.assign(static_cast<size_t>(slots),
                                              pairs / static_cast<double>(slots));
                    }
                } else {
                    if (op.split == Split::ColumnParallel) s.n /= tp;
                    if (op.split == Split::RowParallel) s.k /= tp;
                    for (double e : load.tokens_per_expert)
                        rows_per_group.push_back(e / static_cast<double>(p_.dp));
                }
                s.m_per_group = integer_split(rows_per_group);
                const devices::OpCost c = cm.grouped_gemm_time(s);
                add_assumptions(c);
                OpTiming t = from_cost(c, Unit::Matrix);
                t.ideal_s = ideal(c);
                return t;
            }
            case OpKind::MlaAttention: {
                const models::AttentionDims& a = op.attention;
                devices::AttentionWork w;
                w.phase = wl_.phase == models::Phase::Decode ? devices::AttentionPhase::Decode
                                                             : devices::AttentionPhase::Prefill;
                w.batch = ceil_div(a.sequences, p_.dp);
                w.q_len = a.queries_per_seq;
                w.kv_len = a.context + a.queries_per_seq;
                w.heads = a.heads / tp;
                w.qk_head_dim = a.qk_dim;
                w.v_head_dim = a.v_dim;
                w.kv_bytes_per_token = static_cast<double>(a.cache_bytes_per_token);
                if (wl_.attention == models::AttentionMode::Naive) w.kv_bytes_per_token /= tp;
                w.dtype = Precision::BF16;  // DeepSeek runs the MLA core in BF16
                const devices::OpCost c = cm.attention_time(w);
                add_assumptions(c);
                OpTiming t = from_cost(c, Unit::Matrix);
                t.ideal_s = ideal(c);
                return t;
            }
            default: {
                // Memory-bound ops: the graph's per-device bytes (expert ops scaled to this
                // rank's share of the busiest rank's pairs).
                models::OpCost d = op.per_device;
                if (op.split == Split::ExpertParallel && p_.ep > 1) {
                    const auto& t = op.experts.tokens_per_device;
                    const double busy = t[static_cast<size_t>(busiest_rank(op))];
                    const double f = busy > 0 ? t[static_cast<size_t>(rank)] / busy : 0.0;
                    d.act_read_bytes *= f;
                    d.act_write_bytes *= f;
                    d.vector_ops *= f;
                }
                devices::MemoryWork w;
                w.kind = std::string(models::op_kind_name(op.kind));
                w.bytes_read = d.weight_bytes + d.act_read_bytes + d.kv_read_bytes;
                w.bytes_written = d.act_write_bytes + d.kv_write_bytes;
                w.flops = d.vector_ops;
                const devices::OpCost c = cm.memory_op_time(w);
                return from_cost(c, Unit::Vector);
            }
        }
    }

    // flops / peak of the precision they ran in: the time a perfect kernel would need.
    double ideal(const devices::OpCost& c) const {
        if (c.flops <= 0 || c.compute_efficiency <= 0 || c.compute_seconds <= 0) return 0;
        return c.compute_seconds * c.compute_efficiency;
    }

    CommInfo comm_info(const models::Op& op) {
        CommInfo ci;
        ci.overhead_s = hw_.calibration.collective.overhead.value * 1e-6;
        if (op.kind == OpKind::Dispatch || op.kind == OpKind::Combine) {
            ci.pattern = CommPattern::AllToAll;
            ci.group = p_.ep;
            ci.to_expert = op.kind == OpKind::Dispatch;
            const double groups = static_cast<double>(p_.devices / p_.ep);
            const double e = static_cast<double>(p_.ep);
            for (double t : op.experts.tokens_per_device)
                ci.rank_pairs.push_back(t / groups / e);
            const int64_t hd = c_.hidden_size;
            // Dispatch carries FP8 values with one FP32 scale per 128; combine BF16.
            ci.pair_bytes = op.kind == OpKind::Dispatch
                                ? static_cast<double>(hd + 4 * ceil_div(hd, 128))
                                : static_cast<double>(hd) * 2.0;
            return ci;
        }
        // Ring all-reduce (reduce-scatter + all-gather) or all-gather over the TP group.
        ci.pattern = CommPattern::Ring;
        ci.group = op.comm.size;
        const double n = static_cast<double>(op.comm.size);
        if (op.kind == OpKind::AllReduce) {
            ci.steps = 2 * (op.comm.size - 1);
            ci.step_bytes = op.per_device.act_read_bytes / n;
        } else {
            ci.steps = op.comm.size - 1;
            ci.step_bytes =
                ci.steps > 0 ? op.per_device.comm_bytes / static_cast<double>(ci.steps) : 0.0;
        }
        ci.ring_hbm_bytes = op.per_device.act_read_bytes + op.per_device.act_write_bytes;
        return ci;
    }

    // ---- memory -----------------------------------------------------------------------------

    void account_memory() {
        MemoryUse& mu = p_.memory;
        const models::OpGraph& g = *p_.mbs[0].graph;
        std::set<std::string> seen;
        const double tp = static_cast<double>(p_.tp);
        for (models::OpVertex v : p_.mbs[0].order) {
            const models::Op& op = g.op(v);
            for (const auto& w : op.weights) {
                if (!seen.insert(w.name).second) continue;
                const double bytes = static_cast<double>(w.stored_bytes(c_));
                double share = bytes;
                if (op.kind == OpKind::GroupedGemm) {
                    share = p_.ep > 1 ? bytes / static_cast<double>(c_.n_routed_experts) *
                                            static_cast<double>(op.experts.slots_per_device)
                                      : bytes / tp;
                } else if (op.split != Split::DataParallel) {
                    share = bytes / tp;
                }
                mu.weights += share;
            }
            if (op.kind == OpKind::MlaAttention) {
                // Every sequence keeps its cached and new tokens (the latent cache is shared by
                // the heads, so TP ranks each hold it; the naive cache is split by heads).
                const int64_t n_new = wl_.phase == models::Phase::Prefill
                                          ? wl_.input_len
                                          : op.attention.queries_per_seq;
                double per_token = static_cast<double>(op.attention.cache_bytes_per_token);
                if (wl_.attention == models::AttentionMode::Naive) per_token /= tp;
                mu.kv_cache += static_cast<double>(wl_.batch) *
                               static_cast<double>(wl_.context + n_new) * per_token;
            }
        }
        // Activations: the largest op's inputs and outputs, once per micro-batch in flight.
        for (const MicroBatch& mb : p_.mbs) {
            double peak = 0;
            for (models::OpVertex v : mb.order) {
                const models::OpCost& d = mb.graph->op(v).per_device;
                peak = std::max(peak, d.act_read_bytes + d.act_write_bytes);
            }
            mu.activations += peak;
        }
        if (hw_.device.memory.capacity.known()) {
            mu.capacity = *hw_.device.memory.capacity.value * 1e9;
        } else {
            note("memory.capacity unknown: memory fit not checked");
        }
    }

    const models::ModelConfig& c_;
    const Hardware& hw_;
    const Deployment& dep_;
    const Workload& wl_;
    const SimOptions& opt_;
    Plan& p_;
    bool token_split_ = false;
};

// Peers of member `li` in a group of `n` members laid out as domains of `m` (n % m == 0):
// intra-domain peers by rotation, then the other domains by rotation. At step s every member
// sends to a distinct member, so no port receives two transfers at once (docs/simulator.md).
// `forward` false gives the mirror order: who sends to `li` at each step.
void peer_order(int64_t li, int64_t n, int64_t m, bool forward, std::vector<int64_t>& out) {
    out.clear();
    const int64_t sign = forward ? 1 : -1;
    if (m < 1 || n % m != 0) {
        for (int64_t k = 1; k < n; ++k)
            out.push_back(((li + sign * k) % n + n) % n);
        return;
    }
    const int64_t domains = n / m, di = li / m, lo = li % m;
    for (int64_t k = 1; k < m; ++k)
        out.push_back(di * m + ((lo + sign * k) % m + m) % m);
    for (int64_t a = 1; a < domains; ++a) {
        const int64_t dd = ((di + sign * a) % domains + domains) % domains;
        for (int64_t k = 0; k < m; ++k)
            out.push_back(dd * m + ((lo + sign * k) % m + m) % m);
    }
}

}  // namespace

void Plan::sends(int64_t d, const CommInfo& c, std::vector<Transfer>& out) const {
    out.clear();
    const int64_t first = d / c.group * c.group;
    const int64_t li = d - first;
    if (c.pattern == CommPattern::Ring) {
        if (c.group < 2 || c.step_bytes <= 0) return;
        const int64_t next = first + (li + 1) % c.group;
        for (int64_t s = 0; s < c.steps; ++s)
            out.push_back(Transfer{next, c.step_bytes, s > 0});
        return;
    }
    static thread_local std::vector<int64_t> peers;
    const int64_t m = std::min(topology->domain_size(), c.group);
    peer_order(li, c.group, first % m == 0 ? m : 0, true, peers);
    for (int64_t r : peers) {
        const double pairs = c.rank_pairs[static_cast<size_t>(c.to_expert ? r : li)];
        if (pairs > 0) out.push_back(Transfer{first + r, pairs * c.pair_bytes, false});
    }
}

void receives(const Plan& p, int64_t d, const CommInfo& c, std::vector<Transfer>& out) {
    out.clear();
    const int64_t first = d / c.group * c.group;
    const int64_t li = d - first;
    if (c.pattern == CommPattern::Ring) {
        if (c.group < 2 || c.step_bytes <= 0) return;
        const int64_t prev = first + (li + c.group - 1) % c.group;
        for (int64_t s = 0; s < c.steps; ++s)
            out.push_back(Transfer{prev, c.step_bytes, s > 0});
        return;
    }
    static thread_local std::vector<int64_t> peers;
    const int64_t m = std::min(p.topology->domain_size(), c.group);
    peer_order(li, c.group, first % m == 0 ? m : 0, false, peers);
    for (int64_t s : peers) {
        const double pairs = c.rank_pairs[static_cast<size_t>(c.to_expert ? li : s)];
        if (pairs > 0) out.push_back(Transfer{first + s, pairs * c.pair_bytes, false});
    }
}

double Plan::comm_hbm_bytes(int64_t d, const CommInfo& c) const {
    if (c.pattern == CommPattern::Ring) return c.ring_hbm_bytes;
    std::vector<Transfer> t;
    double total = 0;
    sends(d, c, t);
    for (const auto& x : t)
        total += x.bytes;
    receives(*this, d, c, t);
    for (const auto& x : t)
        total += x.bytes;
    return total;
}

Plan build_plan(const models::ModelConfig& model,
                const Hardware& hw,
                const Deployment& dep,
                const Workload& wl,
                const SimOptions& opt) {
    Plan plan;
    PlanBuilder(model, hw, dep, wl, opt, plan).build();
    return plan;
}

}  // namespace dssim::sim::detail
