// Step plan: micro-batch graphs, per-op timings from the device cost model, collectives as
// transfer patterns, and per-device memory. docs/simulator.md ("From op graph to device work")
// states every mapping rule implemented here.
#include "plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>

#include "dssim/base/error.h"
#include "dssim/models/parallel.h"

namespace dssim::sim::detail {

using devices::Precision;
using models::DType;
using models::OpKind;
using models::Split;

namespace {

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

// Input checks shared by every micro-batch count; returns dp.
int64_t check_inputs(const Hardware& hw,
                     const Deployment& dep,
                     const Workload& wl,
                     const SimOptions& opt) {
    if (wl.phase == models::Phase::Train && dep.micro_batches == 2) {
        throw_input_error("", "--micro-batches",
                          "a training step runs one micro-batch's forward and backward pass "
                          "(two overlapped micro-batches are a serving schedule)");
    }
    if (dep.micro_batches != 1 && dep.micro_batches != 2) {
        throw_input_error(
            "", "--micro-batches",
            "must be 0 (auto), 1 or 2 (got " + std::to_string(dep.micro_batches) + ")");
    }
    if (dep.devices < 1) throw_input_error("", "--devices", "must be >= 1");
    if (dep.tp < 1) throw_input_error("", "--tp", "must be >= 1");
    if (dep.ep < 1) throw_input_error("", "--ep", "must be >= 1");
    if (wl.batch < 1) throw_input_error("", "--batch", "must be >= 1");
    if (wl.phase != models::Phase::Decode && wl.input_len < 1) {
        throw_input_error("", "--input-len", "must be >= 1");
    }
    if (!(wl.mtp_acceptance >= 0 && wl.mtp_acceptance <= 1)) {
        throw_input_error("", "--mtp-acceptance", "must be in [0, 1]");
    }
    int64_t dp = 0;
    if (dep.dp > 0) {
        dp = dep.dp;
    } else {
        if (dep.devices % dep.tp != 0) {
            throw_input_error("", "--tp",
                              std::to_string(dep.tp) + " does not divide " +
                                  std::to_string(dep.devices) + " devices");
        }
        dp = dep.devices / dep.tp;
    }
    const int64_t capacity = hw.system.total_devices();
    if (!hw.replicate_nodes && capacity > 0 && dep.devices > capacity) {
        throw_input_error("", "--devices",
                          std::to_string(dep.devices) + " exceeds the " + std::to_string(capacity) +
                              " devices of system " + hw.system.name);
    }
    if (!opt.expert_loads.empty() && opt.mode == Mode::Symmetric) {
        throw_input_error("", "--mode",
                          "per-layer expert loads need full mode (symmetric mode assumes "
                          "balanced routing)");
    }
    return dp;
}

// Byte-exact keys for the cache and for request deduplication.
class Key {
  public:
    template <typename T>
    Key& add(const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        s_.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    Key& add(const std::string& v) {
        add(v.size());
        s_.append(v);
        return *this;
    }
    template <typename T>
    Key& add(const std::vector<T>& v) {
        add(v.size());
        for (const T& x : v)
            add(x);
        return *this;
    }
    [[nodiscard]] std::string take() { return std::move(s_); }

  private:
    std::string s_;
};

std::string request_key(const CostRequest& q) {
    Key k;
    k.add(q.call).add(q.unit).add(q.repeat);
    switch (q.call) {
        case CostRequest::Call::Gemm:
            k.add(q.gemm.m).add(q.gemm.n).add(q.gemm.k).add(q.gemm.dtype).add(q.gemm.out_dtype);
            break;
        case CostRequest::Call::GroupedGemm:
            k.add(q.grouped.m_per_group)
                .add(q.grouped.n)
                .add(q.grouped.k)
                .add(q.grouped.dtype)
                .add(q.grouped.out_dtype);
            break;
        case CostRequest::Call::Attention: {
            const auto& a = q.attention;
            k.add(a.phase).add(a.batch).add(a.q_len).add(a.kv_len).add(a.heads);
            k.add(a.qk_head_dim).add(a.v_head_dim).add(a.kv_bytes_per_token).add(a.dtype);
            k.add(a.causal);
            break;
        }
        case CostRequest::Call::Memory:
            k.add(q.memory.kind)
                .add(q.memory.bytes_read)
                .add(q.memory.bytes_written)
                .add(q.memory.flops);
            break;
    }
    return k.take();
}

std::string step_key(const models::StepSpec& s) {
    Key k;
    k.add(s.phase).add(s.batch).add(s.seq).add(s.context).add(s.mtp).add(s.attention);
    k.add(s.gemm).add(s.kv_cache).add(s.logits_all_positions).add(s.stage.first).add(s.stage.last);
    k.add(s.plan.tp).add(s.plan.ep).add(s.plan.dp).add(s.plan.devices);
    k.add(s.plan.redundant_experts);
    return k.take();
}

std::string shape_key(const Deployment& dep, int64_t dp, const Workload& wl, Mode mode) {
    Key k;
    k.add(dep.devices).add(dep.tp).add(dep.ep).add(dp).add(dep.redundant_experts);
    k.add(dep.micro_batches).add(wl.phase).add(wl.batch).add(wl.input_len).add(wl.context);
    k.add(wl.mtp).add(wl.attention).add(wl.gemm).add(wl.kv_cache).add(wl.stage.first);
    k.add(wl.stage.last).add(mode);
    return k.take();
}

using GraphSource =
    std::function<std::shared_ptr<const models::OpGraph>(const models::StepSpec&, double)>;

// Builds the machine-independent shape (see plan.h).
class ShapeBuilder {
  public:
    ShapeBuilder(const models::ModelConfig& model,
                 const Deployment& dep,
                 int64_t dp,
                 const Workload& wl,
                 const SimOptions& opt,
                 GraphSource graphs,
                 PlanShape& shape)
        : c_(model), dep_(dep), wl_(wl), graphs_(std::move(graphs)), p_(shape) {
        p_.mode = opt.mode;
        p_.devices = dep.devices;
        p_.tp = dep.tp;
        p_.ep = dep.ep;
        p_.dp = dp;
    }

    void build() {
        build_micro_batches();
        build_ops();
        pack();
        account_memory();
    }

  private:
    void note(const std::string& s) {
        if (std::find(p_.notes.begin(), p_.notes.end(), s) == p_.notes.end()) p_.notes.push_back(s);
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
        s.kv_cache = wl_.kv_cache;
        s.stage = wl_.stage;
        s.plan.tp = p_.tp;
        s.plan.ep = p_.ep;
        s.plan.dp = p_.dp;
        s.plan.devices = p_.devices;
        s.plan.redundant_experts = dep_.redundant_experts;
        return s;
    }

    void build_micro_batches() {
        // Prefill and training steps run input_len new tokens per sequence.
        const bool prefill = wl_.phase != models::Phase::Decode;
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
        std::shared_ptr<const models::OpGraph> prev;
        Part prev_part{0, 0, 0};
        for (const Part& part : parts) {
            MicroBatch mb;
            if (prev && part.seqs == prev_part.seqs && part.len == prev_part.len &&
                part.context == prev_part.context) {
                mb.graph = prev;
            } else {
                mb.graph = graphs_(
                    step_for(part.seqs, part.len, part.context),
                    static_cast<double>(part.seqs * part.len) / static_cast<double>(b * seq));
            }
            mb.order = mb.graph->topological_order();
            mb.sequences_per_device = part.seqs;
            mb.tokens_per_device = part.seqs * part.len;
            prev = mb.graph;
            prev_part = part;
            p_.mbs.push_back(std::move(mb));
        }
    }

    // ---- ops ------------------------------------------------------------------------------

    void build_ops() {
        const int n_mb = static_cast<int>(p_.mbs.size());
        // Plan op index of each graph vertex, per micro-batch (vertex ids are dense).
        std::vector<std::vector<int32_t>> index(static_cast<size_t>(n_mb));
        size_t total = 0;
        for (const MicroBatch& mb : p_.mbs)
            total += mb.order.size();
        p_.ops.reserve(total);
        for (int m = 0; m < n_mb; ++m) {
            const MicroBatch& mb = p_.mbs[static_cast<size_t>(m)];
            auto& idx = index[static_cast<size_t>(m)];
            idx.assign(boost::num_vertices(mb.graph->dag()), -1);
            int64_t pos = 0;
            for (models::OpVertex v : mb.order) {
                PlanOp po;
                po.op = &mb.graph->op(v);
                po.micro_batch = m;
                po.stream = models::is_communication(po.op->kind) ? Stream::Comm : Stream::Compute;
                po.priority = pos * n_mb + m;
                ++pos;
                idx[v] = static_cast<int32_t>(p_.ops.size());
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
            const auto& idx = index[static_cast<size_t>(m)];
            for (models::OpVertex v : mb.order) {
                for (auto [e, end] = boost::out_edges(v, dag); e != end; ++e)
                    link(idx[v], idx[boost::target(*e, dag)]);
            }
        }
        if (token_split_) {
            // The second half's attention reads the first half's keys of the same layer.
            const MicroBatch& a = p_.mbs[0];
            const MicroBatch& b = p_.mbs[1];
            // The core's inputs are [query, query rope, keys/values, key rope]: the first half's
            // producers of the last two (same tensor names in both graphs) feed it.
            for (models::OpVertex v : b.order) {
                const models::Op& op = b.graph->op(v);
                if (op.kind != OpKind::MlaAttention) continue;
                for (size_t i = 2; i < op.inputs.size(); ++i) {
                    if (auto u = a.graph->producer(op.inputs[i].name))
                        link(index[0][*u], index[1][v]);
                }
            }
        }
        // Symmetric mode simulates the busiest EP rank (the critical path); full mode times
        // expert ops per rank.
        std::unordered_map<std::string, int32_t> seen;
        auto request = [&](CostRequest q) {
            auto [it, fresh] = seen.try_emplace(request_key(q), 0);
            if (fresh) {
                it->second = static_cast<int32_t>(p_.requests.size());
                p_.requests.push_back(std::move(q));
            }
            return it->second;
        };
        for (PlanOp& po : p_.ops) {
            if (po.stream == Stream::Comm) {
                po.comm = static_cast<int32_t>(p_.comm.size());
                p_.comm.push_back(
                    comm_info(p_.mbs[static_cast<size_t>(po.micro_batch)].graph->step(), *po.op));
                continue;
            }
            const models::StepSpec& step =
                p_.mbs[static_cast<size_t>(po.micro_batch)].graph->step();
            const bool expert = po.op->split == Split::ExpertParallel;
            if (expert && p_.mode == Mode::Full && p_.ep > 1) {
                po.per_rank = true;
                for (int64_t r = 0; r < p_.ep; ++r)
                    po.request.push_back(request(request_for(step, *po.op, r)));
            } else {
                po.request.push_back(
                    request(request_for(step, *po.op, models::busiest_rank(*po.op))));
            }
        }
    }

    // Comm classes and the packed scheduling view.
    void pack() {
        std::unordered_map<std::string, int32_t> classes;
        for (size_t i = 0; i < p_.comm.size(); ++i) {
            const CommInfo& c = p_.comm[i];
            Key k;
            k.add(c.pattern).add(c.kernel).add(c.group).add(c.to_expert).add(c.rank_pairs);
            k.add(c.pair_bytes);
            k.add(c.steps).add(c.step_bytes).add(c.ring_hbm_bytes);
            p_.comm_class.push_back(
                classes.try_emplace(k.take(), static_cast<int32_t>(i)).first->second);
        }
        p_.sched.reserve(p_.ops.size());
        for (const PlanOp& po : p_.ops) {
            SchedOp so;
            so.priority = po.priority;
            so.deps = po.deps;
            so.stream = po.stream;
            so.succ_begin = static_cast<int32_t>(p_.succ.size());
            p_.succ.insert(p_.succ.end(), po.succ.begin(), po.succ.end());
            so.succ_end = static_cast<int32_t>(p_.succ.size());
            if (po.stream == Stream::Comm) {
                so.item = p_.comm_class[static_cast<size_t>(po.comm)];
            } else {
                so.item = po.per_rank ? -1 : po.request[0];
            }
            p_.sched.push_back(so);
        }
    }

    // The cost-model call timing `op` on EP rank `rank`; the per-device shapes come from
    // models/parallel (docs/simulator.md, "Plan").
    CostRequest request_for(const models::StepSpec& step,
                            const models::Op& op,
                            int64_t rank) const {
        CostRequest q;
        // Backward ops keep their forward op's shapes (B: dX = dY W, W: dW = dY^T X, the same
        // products), some with a multiple of the work.
        q.repeat = models::backward_work_multiple(op.kind, op.pass);
        switch (op.kind) {
            case OpKind::Gemm:
            case OpKind::Head:
            case OpKind::Gate: {
                const models::GemmDims g = models::device_gemm(step, op);
                const Precision prec = matmul_precision(op);
                q.unit = Unit::Matrix;
                if (g.batch > 1) {
                    // Per-head products (absorbed wkv_b halves): one kernel over `batch` groups.
                    q.call = CostRequest::Call::GroupedGemm;
                    q.grouped.m_per_group.assign(static_cast<size_t>(g.batch), g.m);
                    q.grouped.n = g.n;
                    q.grouped.k = g.k;
                    q.grouped.dtype = prec;
                } else {
                    q.call = CostRequest::Call::Gemm;
                    q.gemm = devices::GemmShape{g.m, g.n, g.k, prec, Precision::BF16};
                }
                return q;
            }
            case OpKind::GroupedGemm: {
                q.call = CostRequest::Call::GroupedGemm;
                q.unit = Unit::Matrix;
                const models::DeviceGroupedGemm g = models::device_grouped_gemm(c_, step, op, rank);
                devices::GroupedGemmShape& s = q.grouped;
                s.n = g.n;
                s.k = g.k;
                s.dtype = matmul_precision(op);
                s.m_per_group = integer_split(g.rows_per_group);
                return q;
            }
            case OpKind::MlaAttention: {
                q.call = CostRequest::Call::Attention;
                q.unit = Unit::Matrix;
                const models::DeviceAttention a = models::device_attention(step, op);
                devices::AttentionWork& w = q.attention;
                w.phase = step.phase == models::Phase::Decode ? devices::AttentionPhase::Decode
                                                              : devices::AttentionPhase::Prefill;
                w.batch = a.sequences;
                w.q_len = a.queries_per_seq;
                w.kv_len = a.keys_per_seq;
                w.heads = a.heads;
                w.qk_head_dim = a.qk_dim;
                w.v_head_dim = a.v_dim;
                w.kv_bytes_per_token = a.cache_bytes_per_token;
                w.dtype = Precision::BF16;  // DeepSeek runs the MLA core in BF16
                return q;
            }
            default: {
                // Memory-bound ops: the graph's per-device bytes (expert ops scaled to this
                // rank's share of the busiest rank's pairs).
                q.call = CostRequest::Call::Memory;
                q.unit = Unit::Vector;
                models::OpCost d = op.per_device;
                if (op.split == Split::ExpertParallel && p_.ep > 1) {
                    const auto& t = op.experts.tokens_per_device;
                    const double busy = t[static_cast<size_t>(models::busiest_rank(op))];
                    const double f = busy > 0 ? t[static_cast<size_t>(rank)] / busy : 0.0;
                    d.act_read_bytes *= f;
                    d.act_write_bytes *= f;
                    d.vector_ops *= f;
                }
                devices::MemoryWork& w = q.memory;
                w.kind = std::string(models::op_kind_name(op.kind));
                w.bytes_read = d.weight_bytes + d.act_read_bytes + d.kv_read_bytes;
                w.bytes_written = d.act_write_bytes + d.kv_write_bytes;
                w.flops = d.vector_ops;
                return q;
            }
        }
    }

    CommInfo comm_info(const models::StepSpec& step, const models::Op& op) const {
        CommInfo ci;
        if (op.kind == OpKind::Dispatch || op.kind == OpKind::Combine) {
            const models::AllToAllShape a = models::all_to_all_shape(c_, step, op);
            ci.pattern = CommPattern::AllToAll;
            ci.group = a.group;
            // Dispatch sends to the experts' ranks; combine and the dispatch gradient send back.
            ci.to_expert = (op.kind == OpKind::Dispatch) == (op.pass == models::Pass::Forward);
            ci.rank_pairs = a.rank_pair_copies;
            ci.pair_bytes = a.bytes_per_copy;
            // DeepSeek serves decode with DeepEP's low-latency kernels (one message per token
            // copy) and runs prefill and training with its normal kernels (deduplicated).
            if (step.phase == models::Phase::Decode) {
                ci.kernel = CommKernel::EpLowLatency;
                if (ci.to_expert) ci.pair_bytes += models::kLowLatencyMessageHeader;
            } else {
                ci.kernel = CommKernel::EpNormal;
            }
            return ci;
        }
        // Ring all-reduce (reduce-scatter + all-gather) or all-gather over the TP group.
        const models::RingShape r = models::ring_shape(op);
        ci.pattern = CommPattern::Ring;
        ci.group = r.group;
        ci.steps = r.steps;
        ci.step_bytes = r.step_bytes;
        ci.ring_hbm_bytes = r.hbm_bytes;
        return ci;
    }

    // ---- memory -----------------------------------------------------------------------------

    void account_memory() {
        std::vector<const models::OpGraph*> graphs;
        for (const MicroBatch& mb : p_.mbs)
            graphs.push_back(mb.graph.get());
        // Prefill: every sequence caches its whole prompt, whichever micro-batch computed it.
        const int64_t new_tokens = wl_.phase != models::Phase::Decode ? wl_.input_len : 0;
        const models::DeviceMemoryShare m = models::device_memory(graphs, wl_.batch, new_tokens);
        p_.memory.weights = m.weights;
        p_.memory.kv_cache = m.kv_cache;
        p_.memory.activations = m.activations;
        p_.fp8_weight_elements = m.fp8_weight_elements;
        p_.fp8_weight_scale_bytes = m.fp8_weight_scale_bytes;
    }

    const models::ModelConfig& c_;
    const Deployment& dep_;
    const Workload& wl_;
    GraphSource graphs_;
    PlanShape& p_;
    bool token_split_ = false;
};

// The work of one call done `times` times: compute, memory and ideal time scale, the fixed
// per-kernel cost does not (one kernel does the repeated work).
OpTiming repeated(OpTiming t, double times) {
    if (times == 1.0) return t;
    t.compute_s *= times;
    t.memory_s *= times;
    t.hbm_bytes *= times;
    t.ideal_s *= times;
    return t;
}

// flops / peak of the precision they ran in: the time a perfect kernel would need.
double ideal(const devices::OpCost& c) {
    if (c.flops <= 0 || c.compute_efficiency <= 0 || c.compute_seconds <= 0) return 0;
    return c.compute_seconds * c.compute_efficiency;
}

OpTiming evaluate(const devices::CostModel& cm, const CostRequest& q, Plan& plan) {
    devices::OpCost c;
    switch (q.call) {
        case CostRequest::Call::Gemm:
            c = cm.gemm_time(q.gemm);
            break;
        case CostRequest::Call::GroupedGemm:
            c = cm.grouped_gemm_time(q.grouped);
            break;
        case CostRequest::Call::Attention:
            c = cm.attention_time(q.attention);
            break;
        case CostRequest::Call::Memory:
            return repeated(from_cost(cm.memory_op_time(q.memory), q.unit), q.repeat);
    }
    for (const auto& a : c.assumptions) {
        if (std::find(plan.assumptions.begin(), plan.assumptions.end(), a) ==
            plan.assumptions.end())
            plan.assumptions.push_back(a);
    }
    OpTiming t = from_cost(c, q.unit);
    t.ideal_s = ideal(c);
    return repeated(t, q.repeat);
}

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

namespace {

// Bytes EP member `x` sends member `y` (local indices) for an all-to-all whose group tiles into
// domains of `m` members (m = 0: flat). Per copy, every pair of a token and an expert crosses
// once. Normal kernels deduplicate: a token crosses a NIC once per destination domain (to the
// member with the sender's local index, which forwards) and a scale-up link once per
// destination rank, so inside a domain a member also forwards what the other domains' members
// sent it (docs/simulator.md, "EP all-to-all").
double ep_bytes(const Plan& p, const CommInfo& c, int64_t x, int64_t y, int64_t m) {
    auto pairs = [&](int64_t src, int64_t dst) {
        return c.rank_pairs[static_cast<size_t>(c.to_expert ? dst : src)];
    };
    if (c.kernel != CommKernel::EpNormal) return pairs(x, y) * c.pair_bytes;
    if (m < 2 || c.group % m != 0 || c.group == m) {
        return pairs(x, y) * p.ep_rank_dedup * c.pair_bytes;
    }
    const int64_t domains = c.group / m;
    if (x / m == y / m) {
        return pairs(x, y) * p.ep_rank_dedup * static_cast<double>(domains) * c.pair_bytes;
    }
    if (x % m != y % m) return 0.0;
    // The expert side's domain decides the load: the destination's for dispatch, the source's
    // for combine (it returns what its experts computed).
    const int64_t expert_domain = (c.to_expert ? y : x) / m;
    double copies = 0;
    for (int64_t q = expert_domain * m; q < (expert_domain + 1) * m; ++q)
        copies += c.rank_pairs[static_cast<size_t>(q)];
    return copies * p.ep_domain_dedup * c.pair_bytes;
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
    const int64_t tiled = first % m == 0 ? m : 0;
    peer_order(li, c.group, tiled, true, peers);
    for (int64_t r : peers) {
        const double bytes = ep_bytes(*this, c, li, r, tiled);
        if (bytes > 0) out.push_back(Transfer{first + r, bytes, false});
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
    const int64_t tiled = first % m == 0 ? m : 0;
    peer_order(li, c.group, tiled, false, peers);
    for (int64_t s : peers) {
        const double bytes = ep_bytes(p, c, s, li, tiled);
        if (bytes > 0) out.push_back(Transfer{first + s, bytes, false});
    }
}

double Plan::comm_overhead_s(const CommInfo& c) const {
    if (c.kernel == CommKernel::Ring) return collective_overhead_s;
    const auto kernel = c.kernel == CommKernel::EpNormal ? devices::EpKernel::Normal
                                                         : devices::EpKernel::LowLatency;
    return cost->ep_overhead_seconds(
        kernel, c.to_expert ? devices::CollectiveKind::Dispatch : devices::CollectiveKind::Combine);
}

double Plan::comm_unit_floor_s(const CommInfo& c, double sent_bytes) const {
    if (c.kernel != CommKernel::EpNormal || !(sent_bytes > 0)) return 0.0;
    const double rate = cost->ep_unit_rate(
        devices::EpKernel::Normal,
        c.to_expert ? devices::CollectiveKind::Dispatch : devices::CollectiveKind::Combine, 0);
    return rate > 0 ? sent_bytes / rate : 0.0;
}

int64_t Plan::transfer_ps(const CommInfo& c, const Route& route, double bytes) const {
    double scale = 1.0;
    if (c.kernel != CommKernel::Ring) {
        const devices::Calibration& cal = cost->calibration();
        const devices::EpKernelCalibration& k =
            cost->ep_calibration(c.kernel == CommKernel::EpNormal ? devices::EpKernel::Normal
                                                                  : devices::EpKernel::LowLatency);
        scale = route.cls == LinkClass::ScaleOut
                    ? cal.collective.scale_out_efficiency.value / k.scale_out_efficiency.value
                    : cal.collective.scale_up_efficiency.value / k.scale_up_efficiency.value;
    }
    return static_cast<int64_t>(std::ceil(bytes / route.bandwidth * scale * 1e12 - 1e-6));
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

struct PlanCache::Impl {
    template <typename T>
    struct Entry {
        std::shared_ptr<const T> value;
        uint64_t used = 0;
    };
    template <typename T>
    using Map = std::unordered_map<std::string, Entry<T>>;

    mutable std::mutex mu;
    size_t max_shapes = 0;
    size_t max_graphs = 0;
    size_t max_topologies = 0;
    uint64_t clock = 0;
    std::vector<models::ModelConfig> models;  // a key starts with the model's index here
    Map<PlanShape> shapes;
    Map<models::OpGraph> graphs;
    Map<Topology> topologies;  // keyed by Topology::signature(); routes computed
    Stats stats;

    // Under `mu`.
    std::string model_prefix(const models::ModelConfig& m) {
        size_t i = 0;
        while (i < models.size() && !(models[i] == m))
            ++i;
        if (i == models.size()) models.push_back(m);
        return Key().add(i).take();
    }
    template <typename T>
    std::shared_ptr<const T> find(Map<T>& map, const std::string& key, int64_t& hits) {
        auto it = map.find(key);
        if (it == map.end()) return nullptr;
        it->second.used = ++clock;
        ++hits;
        return it->second.value;
    }
    template <typename T>
    void put(Map<T>& map, size_t limit, const std::string& key, std::shared_ptr<const T> v) {
        auto [it, fresh] = map.try_emplace(key);
        if (fresh) it->second.value = std::move(v);  // a racing builder made the same value
        it->second.used = ++clock;
        while (map.size() > limit) {
            auto oldest = map.begin();
            for (auto i = map.begin(); i != map.end(); ++i) {
                if (i->second.used < oldest->second.used) oldest = i;
            }
            map.erase(oldest);
        }
    }
};

PlanCache::PlanCache(size_t max_shapes, size_t max_graphs, size_t max_topologies)
    : impl_(std::make_unique<Impl>()) {
    impl_->max_shapes = std::max<size_t>(1, max_shapes);
    impl_->max_graphs = std::max<size_t>(1, max_graphs);
    impl_->max_topologies = std::max<size_t>(1, max_topologies);
}
PlanCache::~PlanCache() = default;

PlanCache::Stats PlanCache::stats() const {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->stats;
}

void PlanCache::clear() {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->shapes.clear();
    impl_->graphs.clear();
    impl_->topologies.clear();
    impl_->models.clear();
    impl_->stats = Stats{};
}

std::vector<int> micro_batch_candidates(const Deployment& dep, const Workload& wl) {
    if (dep.micro_batches == 1 || dep.micro_batches == 2) return {dep.micro_batches};
    if (dep.micro_batches == 0 && wl.phase == models::Phase::Train) return {1};
    if (dep.micro_batches != 0) {
        throw_input_error(
            "", "--micro-batches",
            "must be 0 (auto), 1 or 2 (got " + std::to_string(dep.micro_batches) + ")");
    }
    const bool two = wl.batch >= 2 || (wl.phase == models::Phase::Prefill && wl.input_len >= 2);
    if (two) return {1, 2};
    return {1};
}

SimResult step_result(const models::ModelConfig& model,
                      const Hardware& hw,
                      const Deployment& dep,
                      const Workload& wl,
                      const Plan& plan,
                      int64_t step_ps,
                      double ideal_s,
                      double hbm_bytes) {
    SimResult r;
    r.model = std::string(model.short_name());
    r.device = hw.device.name;
    r.system = hw.system.name;
    r.deployment = dep;
    r.deployment.dp = plan.dp;
    r.deployment.micro_batches = static_cast<int>(plan.mbs().size());
    r.micro_batches_requested = dep.micro_batches;
    r.workload = wl;
    r.mode = plan.mode;
    r.step_time_ps = step_ps;
    r.step_time_ms = static_cast<double>(step_ps) * 1e-9;
    const double step_s = static_cast<double>(step_ps) * 1e-12;

    const bool prefill = wl.phase == models::Phase::Prefill;
    const bool train = wl.phase == models::Phase::Train;
    // MTP modules the step ran (each verifies one draft per sequence in decode).
    const double n_mtp = static_cast<double>(plan.mbs().front().graph->mtp_modules());
    const double per_seq =
        prefill || train ? static_cast<double>(wl.input_len) : 1.0 + n_mtp * wl.mtp_acceptance;
    r.tokens_per_step = static_cast<double>(plan.devices) * static_cast<double>(wl.batch) * per_seq;
    if (step_s > 0) {
        r.tokens_per_s = r.tokens_per_step / step_s;
        r.tokens_per_s_per_device = r.tokens_per_s / static_cast<double>(plan.devices);
        r.mfu = ideal_s / step_s;
        r.hbm_bandwidth_utilization = hbm_bytes / (step_s * plan.hbm_bandwidth);
    }
    if (prefill) {
        r.ttft_ms = r.step_time_ms;
    } else if (!train) {
        r.tpot_ms = r.step_time_ms / (1.0 + n_mtp * wl.mtp_acceptance);
    }
    r.memory = plan.memory;
    r.fits = !(r.memory.capacity > 0 && r.memory.total() > r.memory.capacity);
    r.assumptions = plan.assumptions;
    return r;
}

Plan build_plan(const models::ModelConfig& model,
                const Hardware& hw,
                const Deployment& dep,
                const Workload& wl,
                const SimOptions& opt,
                PlanCache* cache) {
    const int64_t dp = check_inputs(hw, dep, wl, opt);
    for (const auto& [layer, loads] : opt.expert_loads) {
        if (model.is_mtp_layer(layer) && !wl.mtp) {
            throw_input_error("", "--expert-loads",
                              "layer " + std::to_string(layer) +
                                  " belongs to the MTP module, which runs only with --mtp");
        }
    }
    Plan p;
    auto note = [&p](const std::string& s) {
        if (std::find(p.assumptions.begin(), p.assumptions.end(), s) == p.assumptions.end())
            p.assumptions.push_back(s);
    };
    p.cost = std::make_unique<devices::CostModel>(hw.device, hw.system, hw.calibration, hw.fp8);
    p.hbm_bandwidth = hw.device.memory.bandwidth.require("memory.bandwidth", "the simulator") * 1e9;
    if (hw.device.memory.latency.known()) {
        p.hbm_latency_s = *hw.device.memory.latency.value * 1e-9;
    } else {
        note("memory.latency unknown: HBM latency omitted");
    }

    // Per-layer expert loads edit the graphs: such shapes are never shared.
    const bool shared = cache != nullptr && opt.expert_loads.empty();
    PlanCache::Impl* c = shared ? &cache->impl() : nullptr;
    std::string prefix;
    if (c) {
        std::lock_guard<std::mutex> lock(c->mu);
        prefix = c->model_prefix(model);
    }
    GraphSource graphs = [&](const models::StepSpec& step, double fraction) {
        std::string key;
        if (c) {
            key = prefix + step_key(step);
            std::lock_guard<std::mutex> lock(c->mu);
            if (auto g = c->find(c->graphs, key, c->stats.graph_hits)) return g;
            ++c->stats.graph_misses;
        }
        auto g = std::make_shared<models::OpGraph>(models::build_op_graph(model, step));
        for (const auto& [layer, loads] : opt.expert_loads) {
            std::vector<double> scaled(loads.size());
            for (size_t i = 0; i < loads.size(); ++i)
                scaled[i] = loads[i] * fraction;
            models::apply_expert_loads(*g, layer, scaled);
        }
        std::shared_ptr<const models::OpGraph> out = std::move(g);
        if (c) {
            std::lock_guard<std::mutex> lock(c->mu);
            c->put(c->graphs, c->max_graphs, key, out);
        }
        return out;
    };
    std::string key;
    if (c) {
        key = prefix + shape_key(dep, dp, wl, opt.mode);
        std::lock_guard<std::mutex> lock(c->mu);
        p.shape = c->find(c->shapes, key, c->stats.shape_hits);
        if (!p.shape) ++c->stats.shape_misses;
    }
    if (!p.shape) {
        auto shape = std::make_shared<PlanShape>();
        ShapeBuilder(model, dep, dp, wl, opt, graphs, *shape).build();
        p.shape = std::move(shape);
        if (c) {
            std::lock_guard<std::mutex> lock(c->mu);
            c->put(c->shapes, c->max_shapes, key, p.shape);
        }
    }

    const PlanShape& s = *p.shape;
    p.mode = s.mode;
    p.devices = s.devices;
    p.tp = s.tp;
    p.ep = s.ep;
    p.dp = s.dp;
    for (const auto& n : s.notes)
        note(n);
    p.timings.reserve(s.requests.size());
    for (const CostRequest& q : s.requests)
        p.timings.push_back(evaluate(*p.cost, q, p));
    p.collective_overhead_s = hw.calibration.collective.overhead.value * 1e-6;

    p.memory = s.memory;
    // A device that runs FP8 weights in a wider format (BF16 fallback) holds them in that
    // format, as the cost model reads them; its scales are then folded in and not stored.
    const int fp8_held_bytes =
        devices::precision_bytes(p.cost->execution_precision(devices::Precision::FP8));
    if (fp8_held_bytes > 1 && s.fp8_weight_elements > 0) {
        p.memory.weights += s.fp8_weight_elements * (fp8_held_bytes - 1) - s.fp8_weight_scale_bytes;
        note("FP8 weights held as " +
             std::string(
                 devices::precision_name(p.cost->execution_precision(devices::Precision::FP8))) +
             " (no native FP8): weight memory counted at " + std::to_string(fp8_held_bytes) +
             " bytes per element");
    }
    if (hw.device.memory.capacity.known()) {
        p.memory.capacity = *hw.device.memory.capacity.value * 1e9;
        double reserve = 0;
        if (hw.system.runtime_memory_reserve.known()) {
            reserve = *hw.system.runtime_memory_reserve.value;
        } else {
            reserve = hw.calibration.assumptions.runtime_memory_reserve.value;
            char buf[160];
            std::snprintf(buf, sizeof buf,
                          "runtime_memory_reserve unknown: estimated %g of device memory (",
                          reserve);
            note(buf + std::string("calibration ") + hw.calibration.name +
                 ", assumptions.runtime_memory_reserve)");
        }
        p.memory.runtime_reserve = reserve * p.memory.capacity;
    } else {
        note("memory.capacity unknown: memory fit not checked");
    }
    auto topo = std::make_shared<Topology>(hw.device, hw.system, hw.calibration, p.devices);
    if (c) {
        // Routes (one Dijkstra per source) are the costly part: share them between machines
        // whose topologies are identical (e.g. points differing in HBM or compute figures).
        const std::string sig = topo->signature();
        std::shared_ptr<const Topology> shared_topo;
        {
            std::lock_guard<std::mutex> lock(c->mu);
            shared_topo = c->find(c->topologies, sig, c->stats.topology_hits);
            if (!shared_topo) ++c->stats.topology_misses;
        }
        if (!shared_topo) {
            try {
                topo->compute_all_routes();
                shared_topo = topo;
                std::lock_guard<std::mutex> lock(c->mu);
                c->put(c->topologies, c->max_topologies, sig, shared_topo);
            } catch (const InputError&) {
                // Some device pair has no route; the plan may not need it (the uncached path
                // only fails on routes it asks for), so keep this topology private and lazy.
                shared_topo = topo;
            }
        }
        p.topology = std::move(shared_topo);
    } else {
        p.topology = std::move(topo);
    }
    for (const auto& a : p.topology->assumptions())
        note(a);
    if (p.ep > 1) {
        p.ep_members = std::min(p.topology->domain_size(), p.ep);
        const models::TokenFanout f = models::expected_fanout(model, p.ep, p.ep_members);
        if (f.copies > 0) {
            p.ep_rank_dedup = f.ranks / f.copies;
            p.ep_domain_dedup = f.nodes / f.copies;
        }
    }
    return p;
}

int64_t representative_device(const Plan& plan) {
    for (const PlanOp& po : plan.ops()) {
        if (po.op->kind == models::OpKind::GroupedGemm && !po.op->experts.tokens_per_device.empty())
            return models::busiest_rank(*po.op);
    }
    return 0;
}

}  // namespace dssim::sim::detail
