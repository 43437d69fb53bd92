// Classification, dependency inference, list scheduling and duration mapping for trace
// replay (docs/replay.md gives the rules in prose). Model-derived work takes its shapes from
// the op graph of the recorded micro-batch through models/parallel, never from ModelConfig.
#include "dssim/traces/replay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <numeric>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/models/parallel.h"

namespace dssim::traces {

Classification classify(const Trace& trace, const RuleTable& rules) {
    Classification c;
    c.category.resize(trace.kernels.size());
    // Classify each distinct (name, cat) once: names repeat thousands of times.
    std::unordered_map<uint64_t, std::pair<uint16_t, bool>> memo;
    for (size_t i = 0; i < trace.kernels.size(); ++i) {
        const Kernel& k = trace.kernels[i];
        uint64_t key = (static_cast<uint64_t>(k.name) << 32) | k.source_cat;
        auto it = memo.find(key);
        if (it == memo.end()) {
            bool matched = false;
            size_t cat =
                rules.classify(trace.strings.at(k.name), trace.strings.at(k.source_cat), matched);
            it = memo.emplace(key, std::make_pair(static_cast<uint16_t>(cat), matched)).first;
        }
        c.category[i] = it->second.first;
        if (!it->second.second) {
            ++c.unknown[trace.strings.at(k.name)];
            ++c.unknown_kernels;
        }
    }
    return c;
}

namespace {

// Kernels in recorded-start order (ties: stream, then index): a topological order of every
// kept dependency.
std::vector<uint32_t> start_order(const Trace& t) {
    std::vector<uint32_t> order(t.kernels.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        const Kernel& x = t.kernels[a];
        const Kernel& y = t.kernels[b];
        if (x.start != y.start) return x.start < y.start;
        if (x.stream != y.stream) return x.stream < y.stream;
        return a < b;
    });
    return order;
}

Ns us_to_ns(double us) {
    return static_cast<Ns>(std::llround(us * 1000.0));
}

}  // namespace

Dependencies infer_dependencies(const Trace& t, const Classification& cls, const RuleTable& rules) {
    const size_t n = t.kernels.size();
    Dependencies d;
    d.stream_pred.assign(n, -1);
    d.cross.assign(n, {});
    d.lag.assign(n, 0);
    for (size_t i = 1; i < n; ++i)
        if (t.kernels[i].stream == t.kernels[i - 1].stream)
            d.stream_pred[i] = static_cast<int64_t>(i - 1);

    std::vector<uint32_t> order = start_order(t);
    std::vector<uint32_t> rank(n);
    for (size_t r = 0; r < n; ++r)
        rank[order[r]] = static_cast<uint32_t>(r);

    // Explicit flow arrows (kept only if they point forward in recorded time).
    for (const FlowEdge& e : t.flow_edges) {
        if (e.from >= n || e.to >= n || rank[e.from] >= rank[e.to]) {
            ++d.dropped_edges;
            continue;
        }
        if (t.kernels[e.from].stream == t.kernels[e.to].stream) continue;  // stream order has it
        d.cross[e.to].push_back(static_cast<uint32_t>(e.from));
        ++d.flow_edges;
    }

    // Inferred waits: per process (device), kernels by end time.
    std::vector<std::string> process_of_stream;
    for (const Stream& s : t.streams)
        process_of_stream.push_back(s.process);
    std::map<std::string, std::vector<std::pair<Ns, uint32_t>>> ends;
    for (size_t i = 0; i < n; ++i)
        ends[process_of_stream[t.kernels[i].stream]].emplace_back(t.kernels[i].end(),
                                                                  static_cast<uint32_t>(i));
    for (auto& [p, v] : ends)
        std::sort(v.begin(), v.end());
    const Ns gap_min = us_to_ns(rules.inference.idle_gap_us);
    const Ns before = us_to_ns(rules.inference.ended_before_us);
    const Ns after = us_to_ns(rules.inference.ended_after_us);
    auto is_compute = [&](size_t i) {
        return rules.categories[cls.category[i]].stream_class == StreamClass::Compute;
    };
    for (size_t i = 0; i < n; ++i) {
        const Kernel& k = t.kernels[i];
        if (d.stream_pred[i] >= 0) {
            Ns gap = k.start - t.kernels[static_cast<size_t>(d.stream_pred[i])].end();
            if (gap <= gap_min) continue;  // its own stream explains the start
        }
        const auto& v = ends[process_of_stream[k.stream]];
        auto lo = std::lower_bound(v.begin(), v.end(), std::make_pair(k.start - before, 0u));
        // Latest-ending candidate per other stream.
        std::map<uint32_t, std::pair<Ns, uint32_t>> best;
        for (auto it = lo; it != v.end() && it->first <= k.start + after; ++it) {
            uint32_t p = it->second;
            const Kernel& pk = t.kernels[p];
            if (pk.stream == k.stream || rank[p] >= rank[i]) continue;
            if (it->first > k.start && !(is_compute(p) && is_compute(i))) continue;
            auto b = best.find(pk.stream);
            if (b == best.end()) {
                best.emplace(pk.stream, std::make_pair(it->first, p));
            } else if (it->first >= b->second.first) {
                b->second = {it->first, p};
            }
        }
        for (const auto& [s, e] : best) {
            auto& c = d.cross[i];
            if (std::find(c.begin(), c.end(), e.second) == c.end()) {
                c.push_back(e.second);
                ++d.inferred_edges;
            }
        }
    }

    // Lag: the recorded distance from the binding producer's end to the kernel's start.
    const Ns t0 = t.begin_time();
    for (size_t i = 0; i < n; ++i) {
        auto& c = d.cross[i];
        std::sort(c.begin(), c.end());
        bool any = d.stream_pred[i] >= 0 || !c.empty();
        Ns latest = INT64_MIN;
        if (d.stream_pred[i] >= 0) latest = t.kernels[static_cast<size_t>(d.stream_pred[i])].end();
        for (uint32_t p : c)
            latest = std::max(latest, t.kernels[p].end());
        d.lag[i] = any ? t.kernels[i].start - latest : t.kernels[i].start - t0;
    }
    return d;
}

Ns Schedule::begin() const {
    Ns b = start.empty() ? 0 : start.front();
    for (Ns s : start)
        b = std::min(b, s);
    return b;
}

Ns Schedule::end() const {
    Ns e = start.empty() ? 0 : start.front() + dur.front();
    for (size_t i = 0; i < start.size(); ++i)
        e = std::max(e, start[i] + dur[i]);
    return e;
}

Schedule list_schedule(const Trace& t, const Dependencies& deps, const std::vector<Ns>& dur) {
    const size_t n = t.kernels.size();
    if (dur.size() != n) throw InputError("list_schedule: one duration per kernel expected");
    Schedule s;
    s.start.assign(n, 0);
    s.dur = dur;
    s.binding.assign(n, -1);
    const Ns t0 = t.begin_time();
    for (uint32_t i : start_order(t)) {
        int64_t sp = deps.stream_pred[i];
        int64_t binding = -1;
        Ns latest = 0;
        if (sp >= 0) {
            latest = s.start[static_cast<size_t>(sp)] + s.dur[static_cast<size_t>(sp)];
            binding = sp;
        }
        for (uint32_t p : deps.cross[i]) {
            Ns e = s.start[p] + s.dur[p];
            if (binding < 0 || e > latest) {
                latest = e;
                binding = p;
            }
        }
        Ns start = binding < 0 ? t0 + deps.lag[i] : latest + deps.lag[i];
        if (sp >= 0) {
            // Stream order is a hard floor (a recorded same-stream overlap is kept as is).
            const Kernel& pk = t.kernels[static_cast<size_t>(sp)];
            Ns rec_overlap = std::min<Ns>(0, t.kernels[i].start - pk.end());
            Ns floor =
                s.start[static_cast<size_t>(sp)] + s.dur[static_cast<size_t>(sp)] + rec_overlap;
            if (floor > start) {
                start = floor;
                binding = sp;
            }
        }
        s.start[i] = start;
        s.binding[i] = binding;
    }
    return s;
}

Schedule recorded_schedule(const Trace& t, const Dependencies& deps) {
    std::vector<Ns> dur(t.kernels.size());
    for (size_t i = 0; i < dur.size(); ++i)
        dur[i] = t.kernels[i].dur;
    Schedule s = list_schedule(t, deps, dur);
    // The lag construction makes this exact; keep the recorded starts regardless.
    for (size_t i = 0; i < dur.size(); ++i)
        s.start[i] = t.kernels[i].start;
    return s;
}

ReplayDeployment parse_replay_deployment(const Json& j, const std::string& file) {
    if (!j.is_object()) throw_input_error(file, "schema", "expected a JSON object");
    JsonFields f(j, file);
    ReplayDeployment d;
    d.file = file;
    d.schema = f.string("schema");
    if (d.schema != "dssim-replay-deployment/1")
        f.fail("schema", "expected \"dssim-replay-deployment/1\"");
    d.name = f.string_or("name", "");
    d.ep = f.integer("ep");
    d.tokens = f.integer("tokens_per_micro_batch");
    d.seq_len = f.integer("seq_len");
    d.members_per_domain = f.integer_or("members_per_domain", 0);
    // Optional, so that files written before decode replay keep their meaning (prefill/train
    // attention over seq_len fresh tokens, up-projected K/V).
    d.context = f.integer_or("context", 0);
    const std::string phase = f.string_or("phase", "prefill");
    if (auto p = models::phase_from_name(phase)) {
        d.phase = *p;
    } else {
        f.fail("phase", "'" + phase + "' is not one of: prefill, train, decode");
    }
    const std::string att = f.string_or("attention", "naive");
    if (att != "naive" && att != "absorbed")
        f.fail("attention", "'" + att + "' is not one of: naive, absorbed");
    d.absorbed = att == "absorbed";
    f.ignore({"description"});
    f.reject_unknown();
    if (d.ep < 1) f.fail("ep", "must be >= 1");
    if (d.tokens < 1) f.fail("tokens_per_micro_batch", "must be >= 1");
    if (d.seq_len < 1) f.fail("seq_len", "must be >= 1");
    if (d.members_per_domain < 0) f.fail("members_per_domain", "must be >= 0");
    if (d.context < 0) f.fail("context", "must be >= 0");
    return d;
}

ReplayDeployment load_replay_deployment(const std::filesystem::path& path) {
    return parse_replay_deployment(load_json_file(path), path.string());
}

std::string describe(const ReplayDeployment& d) {
    std::string s = "EP" + std::to_string(d.ep) + ", " + std::to_string(d.tokens) +
                    " tokens per micro-batch, sequence " + std::to_string(d.seq_len);
    if (d.context > 0) s += " after " + std::to_string(d.context) + " cached";
    if (d.phase != models::Phase::Prefill) s += ", " + std::string(models::phase_name(d.phase));
    if (d.absorbed) s += ", absorbed attention";
    return s;
}

namespace {

constexpr const char* kGeneralSchema = "dssim-deployment/1";

// Rethrows an InputError of models::validate_step, which names the command-line option
// ("--mtp: model deepseek-v2 has no MTP module"), as the same problem at the field of `file`
// that gave the option's value; an option without a field keeps its name.
[[noreturn]] void rethrow_at_field(
    const InputError& e,
    const std::string& file,
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    const std::string_view message = e.what();
    const size_t colon = message.find(": ");
    std::string_view field;
    std::string_view problem = message;
    if (message.substr(0, 2) == "--" && colon != std::string_view::npos) {
        field = message.substr(0, colon);
        problem = message.substr(colon + 2);
        for (const auto& [option, name] : fields)
            if (option == field) field = name;
    }
    throw_input_error(file, field, problem);
}

// Draft tokens a decode step with MTP verifies: one per MTP module, as the op graph builds the
// step. Throws validate_step's InputError ("--mtp: model X has no MTP module") for a model
// without one.
int64_t mtp_drafts(const models::ModelConfig& m) {
    models::StepSpec s;  // one sequence without a cache: only the MTP check can refuse it
    s.phase = models::Phase::Decode;
    s.mtp = true;
    return models::build_op_graph(m, s).mtp_modules();
}

// The ops of one MoE layer (the first) that replay's model-derived work is made of, in graph
// order. Every MoE layer has the same shapes; the layer is found by its gate, not by name.
struct MoeLayerOps {
    std::vector<const models::Op*> attention_gemms;  // Gemm ops before the gate: wq_a, wq_b
                                                     // (or wq), wkv_a, wkv_b, wo in a naive
                                                     // graph (absorbed: the wkv_b halves)
    const models::Op* core = nullptr;                // MlaAttention
    const models::Op* gate = nullptr;
    std::vector<const models::Op*> experts;  // GroupedGemm: w1, w3, w2
};

MoeLayerOps first_moe_layer(const models::OpGraph& g) {
    MoeLayerOps l;
    int64_t layer = -1;
    // Vertex indices are insertion order: the builder adds a layer's ops as they run.
    for (models::OpVertex v = 0; v < g.size() && layer < 0; ++v)
        if (g.op(v).kind == models::OpKind::Gate) layer = g.op(v).layer;
    if (layer < 0) return l;
    for (models::OpVertex v = 0; v < g.size(); ++v) {
        const models::Op& op = g.op(v);
        if (op.layer != layer || op.pass != models::Pass::Forward) continue;
        if (op.kind == models::OpKind::Gemm && l.gate == nullptr) l.attention_gemms.push_back(&op);
        if (op.kind == models::OpKind::MlaAttention) l.core = &op;
        if (op.kind == models::OpKind::Gate) l.gate = &op;
        if (op.kind == models::OpKind::GroupedGemm) l.experts.push_back(&op);
    }
    return l;
}

// One shape replay's work reads, for replay_shape_difference.
struct ReplayShape {
    std::string name;  // op name in the graph, "layers.3.attn.wq_a"
    std::string role;  // the same without the layer, "attn.wq_a" (models differ in which
                       // layer is the first MoE layer; replay does not care)
    std::vector<std::pair<const char*, int64_t>> dims;
};

std::string without_layer(const std::string& name) {
    const size_t a = name.find('.');
    const size_t b = a == std::string::npos ? a : name.find('.', a + 1);
    return b == std::string::npos ? name : name.substr(b + 1);
}

// Everything model_work() takes from a model, on a one-token step (shapes do not depend on
// the step): the first MoE layer's attention projections, its MLA core (heads, per-head dims,
// latent and rope widths, which also give the absorbed form and the cache), its router
// (experts, top-k), its expert projections, and the MTP depth decode drafts come from. The
// dispatch/combine payload follows the hidden size, which the projections carry.
std::vector<ReplayShape> replay_shapes(const models::ModelConfig& m) {
    models::StepSpec s;
    s.phase = models::Phase::Prefill;
    s.attention = models::AttentionMode::Naive;
    const models::OpGraph g = models::build_op_graph(m, s);
    const MoeLayerOps l = first_moe_layer(g);
    std::vector<ReplayShape> out;
    auto add = [&](const models::Op& op, std::vector<std::pair<const char*, int64_t>> dims) {
        out.push_back({op.name, without_layer(op.name), std::move(dims)});
    };
    for (const models::Op* op : l.attention_gemms)
        add(*op, {{"n", op->gemm.n}, {"k", op->gemm.k}});
    if (l.core != nullptr) {
        const models::AttentionDims& a = l.core->attention;
        add(*l.core, {{"heads", a.heads},
                      {"qk_dim", a.qk_dim},
                      {"v_dim", a.v_dim},
                      {"latent_dim", a.latent_dim},
                      {"rope_dim", a.rope_dim},
                      {"cache_bytes_per_token", a.cache_bytes_per_token}});
    }
    if (l.gate != nullptr)
        add(*l.gate, {{"experts", l.gate->routing.experts}, {"top_k", l.gate->routing.top_k}});
    for (const models::Op* op : l.experts)
        add(*op, {{"n", op->gemm.n}, {"k", op->gemm.k}});
    int64_t drafts = 0;
    try {
        drafts = mtp_drafts(m);
    } catch (const InputError&) {
        // validate_step refuses MTP on a model without an MTP module: its depth is 0.
    }
    out.push_back({"mtp", "mtp", {{"modules", drafts}}});
    return out;
}

}  // namespace

ReplayDeployment replay_deployment_from(const DeploymentStep& s, const models::ModelConfig& m) {
    // The fields were checked by the deployment parser; these are the limits of replay's
    // per-device work, which has no tensor-parallel split of GEMMs or heads.
    if (s.tp != 1) {
        throw_input_error(
            s.file, "parallel.tp",
            "replay derives per-device work for TP1 only (got " + std::to_string(s.tp) + ")");
    }
    if (s.ep < 1) throw_input_error(s.file, "parallel.ep", "must be >= 1");
    if (s.micro_batches != 1 && s.micro_batches != 2)
        throw_input_error(s.file, "parallel.micro_batches", "must be 1 or 2");
    if (s.batch < 1) throw_input_error(s.file, "workload.batch", "must be >= 1");
    if (s.input_len < 1) throw_input_error(s.file, "workload.input_len", "must be >= 1");
    if (s.context < 0) throw_input_error(s.file, "workload.context", "must be >= 0");
    // A decode step verifies one draft per MTP module with the main model, so every sequence
    // carries 1 + drafts tokens through the GEMMs, the dispatch and the attention queries.
    int64_t drafts = 0;
    if (s.mtp && s.phase == models::Phase::Decode) {
        try {
            drafts = mtp_drafts(m);
        } catch (const InputError& e) {
            rethrow_at_field(e, s.file, {{"--mtp", "workload.mtp"}});
        }
    }
    ReplayDeployment d;
    d.file = s.file;
    d.name = s.name;
    d.schema = kGeneralSchema;
    d.ep = s.ep;
    d.phase = s.phase;
    d.absorbed = s.absorbed;
    // Each EP member's placement is a property of the machine replayed on, not of the one the
    // deployment names: 0 packs as many members into a scale-up domain as fit on each side
    // (8 on an H800 node, all 64 in a 384-device CloudMatrix domain).
    d.members_per_domain = 0;
    d.context = s.context;
    // The recorded kernels process one micro-batch; take the first, as the simulator builds
    // it: two micro-batches halve the sequences (the first half gets the odd one), or, with a
    // single prompt, its tokens (the first half has the same cached prefix).
    int64_t seqs = s.batch;
    int64_t len = s.phase == models::Phase::Decode ? 1 : s.input_len;
    if (s.micro_batches == 2) {
        if (seqs >= 2) {
            seqs -= seqs / 2;
        } else if (s.phase != models::Phase::Decode && len >= 2) {
            len -= len / 2;
        }
    }
    d.seq_len = len + drafts;
    d.tokens = seqs * d.seq_len;
    return d;
}

std::string replay_shape_difference(const models::ModelConfig& a, const models::ModelConfig& b) {
    const std::vector<ReplayShape> x = replay_shapes(a);
    const std::vector<ReplayShape> y = replay_shapes(b);
    for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
        if (i >= x.size()) return "none vs " + y[i].name;
        if (i >= y.size()) return x[i].name + " vs none";
        if (x[i].role != y[i].role) return x[i].name + " vs " + y[i].name + ": different ops";
        for (size_t j = 0; j < x[i].dims.size(); ++j) {
            const auto& [dim, va] = x[i].dims[j];
            const int64_t vb = y[i].dims[j].second;
            if (va != vb)
                return x[i].name + ": " + dim + " " + std::to_string(va) + " vs " +
                       std::to_string(vb);
        }
    }
    return {};
}

devices::CostModel load_cost_model(std::string_view name) {
    std::filesystem::path p(name);
    if (std::filesystem::is_regular_file(p)) {
        Json j = load_json_file(p);
        std::string schema = j.is_object() && j.contains("schema") && j["schema"].is_string()
                                 ? j["schema"].get<std::string>()
                                 : "";
        if (schema.rfind("dssim-system", 0) == 0) return devices::CostModel::for_system(name);
        return devices::CostModel::for_device(name);
    }
    auto has = [](const std::vector<std::string>& v, std::string_view x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    std::vector<std::string> devs = devices::list_devices();
    if (has(devs, name)) return devices::CostModel::for_device(name);
    std::vector<std::string> systems = devices::list_systems();
    if (has(systems, name)) return devices::CostModel::for_system(name);
    std::string list;
    for (const auto& d : devs)
        list += (list.empty() ? "" : ", ") + d;
    std::string slist;
    for (const auto& s : systems)
        slist += (slist.empty() ? "" : ", ") + s;
    throw InputError("unknown device or system '" + std::string(name) + "' (devices: " + list +
                     "; systems: " + slist + ")");
}

namespace {

devices::Precision precision_of(const std::string& s, const std::string& file) {
    auto p = devices::parse_precision(s);
    if (!p) throw_input_error(file, "probe.dtype", "unknown precision '" + s + "'");
    return *p;
}

devices::CollectiveKind collective_of(const std::string& s) {
    using K = devices::CollectiveKind;
    if (s == "dispatch") return K::Dispatch;
    if (s == "combine") return K::Combine;
    if (s == "all_reduce") return K::AllReduce;
    if (s == "all_gather") return K::AllGather;
    if (s == "reduce_scatter") return K::ReduceScatter;
    return K::AllToAll;
}

// The ops whose cost, summed, stands for one category on a device.
struct WorkSet {
    std::vector<devices::GemmShape> gemms;
    std::vector<devices::GroupedGemmShape> grouped;
    std::vector<devices::AttentionWork> attention;
    std::vector<devices::MemoryWork> memory;
    std::vector<devices::CollectiveWork> collectives;
    std::string text;  // human description
};

std::string fmt(const char* f, double a) {
    char b[64];
    std::snprintf(b, sizeof b, f, a);
    return b;
}

WorkSet probe_work(const Category& c,
                   const RuleTable& rules,
                   int64_t participants,
                   int64_t members) {
    const Probe& p = c.probe;
    WorkSet w;
    if (p.op == "gemm") {
        w.gemms.push_back(
            {p.m, p.n, p.k, precision_of(p.dtype, rules.file), devices::Precision::BF16});
        w.text = "gemm " + std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                 std::to_string(p.k) + " " + p.dtype;
    } else if (p.op == "grouped_gemm") {
        devices::GroupedGemmShape g;
        g.m_per_group.assign(static_cast<size_t>(p.groups), p.m);
        g.n = p.n;
        g.k = p.k;
        g.dtype = precision_of(p.dtype, rules.file);
        w.grouped.push_back(g);
        w.text = "grouped gemm " + std::to_string(p.groups) + "x" + std::to_string(p.m) + " n" +
                 std::to_string(p.n) + " k" + std::to_string(p.k) + " " + p.dtype;
    } else if (p.op == "attention") {
        devices::AttentionWork a;
        a.phase = p.phase == "decode" ? devices::AttentionPhase::Decode
                                      : devices::AttentionPhase::Prefill;
        a.batch = p.batch;
        a.q_len = p.q_len;
        a.kv_len = p.kv_len;
        a.heads = p.heads;
        a.qk_head_dim = p.qk_head_dim;
        a.v_head_dim = p.v_head_dim;
        a.dtype = precision_of(p.dtype, rules.file);
        a.causal = p.causal;
        w.attention.push_back(a);
        w.text = "attention " + p.phase + " " + std::to_string(p.batch) + "x" +
                 std::to_string(p.q_len) + " heads " + std::to_string(p.heads);
    } else if (p.op == "memory") {
        w.memory.push_back({c.name, p.bytes_read, p.bytes_written, 0});
        w.text = "memory " + fmt("%.1f MB", (p.bytes_read + p.bytes_written) / 1e6);
    } else {
        devices::CollectiveWork cw;
        cw.kind = collective_of(p.kind);
        cw.bytes = p.bytes;
        cw.participants = participants > 0 ? participants : p.participants;
        cw.members_per_domain = members > 0 ? members : p.members_per_domain;
        w.collectives.push_back(cw);
        w.text = p.kind + " " + fmt("%.1f MB", p.bytes / 1e6) + " over " +
                 std::to_string(cw.participants) + " devices";
    }
    return w;
}

// The recorded micro-batch as an op graph step (docs/replay.md, "Work per kernel"): one EP
// group of `ep` devices, each a DP rank running `tokens / seq_len` sequences (at least one) of
// `seq_len` new tokens after `context` cached ones, TP1. Always a prefill-phase forward: a
// decode micro-batch with MTP drafts has seq_len = 1 + drafts queries per sequence, which a
// prefill step of that length expresses without the MTP modules; the attention kernel's
// phase (prefill or decode cost model) is taken from the deployment, not from the graph.
models::StepSpec replay_step(const models::ModelConfig& m,
                             const ReplayDeployment& d,
                             models::AttentionMode attention) {
    models::StepSpec s;
    s.phase = models::Phase::Prefill;
    s.batch = std::max<int64_t>(1, d.tokens / d.seq_len) * d.ep;
    s.seq = d.seq_len;
    s.context = d.context;
    s.attention = attention;
    s.gemm = models::GemmMode::Bf16;
    s.plan.tp = 1;
    s.plan.ep = d.ep;
    s.plan.dp = d.ep;
    s.plan.devices = d.ep;
    // The graph needs ep to divide its expert slots. Where it does not divide the routed
    // experts (EP144 or EP320 over 256), the fewest redundant slots that make it divide
    // (EPLB's replicas) make up the difference, and each member holds its slots.
    const int64_t experts = models::routing_of(m).experts;
    if (d.ep > 1 && experts > 0) s.plan.redundant_experts = (d.ep - experts % d.ep) % d.ep;
    return s;
}

// The graphs replay's work reads, built once per Retimer (a full V3 graph takes milliseconds).
struct ReplayGraphs {
    std::optional<models::OpGraph> naive;     // projections, experts, router; naive attention
    std::optional<models::OpGraph> absorbed;  // the attention core of an absorbed deployment
};

ReplayGraphs replay_graphs(const models::ModelConfig& m, const ReplayDeployment& d) {
    ReplayGraphs g;
    try {
        g.naive = models::build_op_graph(m, replay_step(m, d, models::AttentionMode::Naive));
        if (d.absorbed)
            g.absorbed =
                models::build_op_graph(m, replay_step(m, d, models::AttentionMode::Absorbed));
    } catch (const InputError& e) {
        // E.g. a context beyond the model's positions: name the deployment's own field.
        if (d.schema == kGeneralSchema) {
            rethrow_at_field(e, d.file,
                             {{"--batch", "workload.batch"},
                              {"--seq", "workload.input_len"},
                              {"--context", "workload.context"},
                              {"--ep", "parallel.ep"}});
        }
        rethrow_at_field(e, d.file,
                         {{"--batch", "tokens_per_micro_batch"},
                          {"--seq", "seq_len"},
                          {"--context", "context"},
                          {"--ep", "ep"}});
    }
    return g;
}

// Work of a category derived from the model and the deployment (docs/replay.md): every shape
// comes from the ops of one MoE layer of the step's graph, through models/parallel.
WorkSet model_work(const Category& c,
                   const ReplayGraphs& graphs,
                   const ReplayDeployment& d,
                   const RuleTable& rules,
                   WorkSet fallback) {
    WorkSet w;
    const int64_t t = d.tokens;
    const auto dtype = precision_of(c.probe.dtype, rules.file);
    const models::OpGraph& g = *graphs.naive;
    const models::ModelConfig& m = g.config();
    const models::StepSpec& step = g.step();
    const MoeLayerOps layer = first_moe_layer(g);
    if (c.model_work == "dense_gemm" && !layer.attention_gemms.empty()) {
        // The MLA projections in the naive form (wq_a, wq_b, wkv_a, wkv_b up-projection, wo),
        // at the deployment's tokens per micro-batch.
        for (const models::Op* op : layer.attention_gemms) {
            const models::GemmDims dims = models::device_gemm(step, *op);
            w.gemms.push_back({t, dims.n, dims.k, dtype, devices::Precision::BF16});
        }
        w.text = "model MLA projections at " + std::to_string(t) + " tokens, " + c.probe.dtype;
    } else if (c.model_work == "expert_gemm" && layer.experts.size() == 3 &&
               layer.gate != nullptr) {
        // One EP member runs its rank's local experts at balanced routing: the busiest rank of
        // the graph's placement.
        const models::Op& w1 = *layer.experts[0];
        const models::Op& w3 = *layer.experts[1];
        const models::Op& w2 = *layer.experts[2];
        // The busiest EP rank of the graph's placement, redundant slots included (EP144 over
        // 256 experts: 288 slots, two per rank, as DeepSeek serves it and the simulator times).
        const int64_t rank = models::busiest_rank(w1);
        auto local = [&](const models::Op& op) {
            return models::device_grouped_gemm(m, step, op, rank);
        };
        const models::DeviceGroupedGemm g1 = local(w1), g3 = local(w3), g2 = local(w2);
        // The graph runs whole sequences; a file's tokens per micro-batch may be a part of one.
        const int64_t graph_tokens = models::device_rows(step, g.main_tokens());
        auto rows = [&](const models::DeviceGroupedGemm& s) {
            std::vector<int64_t> r;
            for (double pairs : s.rows_per_group) {
                if (t != graph_tokens)
                    pairs = pairs * static_cast<double>(t) / static_cast<double>(graph_tokens);
                // Whole rows, as the kernel receives them (the graph's are expected pairs); the
                // tolerance keeps a whole quotient that rounding left just below from losing one.
                r.push_back(std::max<int64_t>(1, static_cast<int64_t>(pairs + 1e-9)));
            }
            return r;
        };
        // The recorded kernels run gate (w1) and up (w3) as one grouped GEMM over the
        // concatenated weights, then down (w2).
        devices::GroupedGemmShape fused, down;
        fused.m_per_group = rows(g1);
        fused.n = g1.n + g3.n;
        fused.k = g1.k;
        fused.dtype = dtype;
        down.m_per_group = rows(g2);
        down.n = g2.n;
        down.k = g2.k;
        down.dtype = dtype;
        if (fused.m_per_group.empty()) return fallback;
        w.text = "model experts: " + std::to_string(fused.m_per_group.size()) + " local x " +
                 std::to_string(fused.m_per_group.front()) + " rows, up+gate and down";
        w.grouped = {std::move(fused), std::move(down)};
    } else if (c.model_work == "attention") {
        const models::OpGraph& ag = graphs.absorbed ? *graphs.absorbed : g;
        const MoeLayerOps al = first_moe_layer(ag);
        if (al.core == nullptr) return fallback;
        // Sequences, heads, per-head dims and KV cache per token as the graph has them:
        // absorbed attends over the latent (r + rope, values r), naive over up-projected K/V.
        const models::DeviceAttention da = models::device_attention(ag.step(), *al.core);
        devices::AttentionWork a;
        a.phase = d.phase == models::Phase::Decode ? devices::AttentionPhase::Decode
                                                   : devices::AttentionPhase::Prefill;
        a.batch = da.sequences;
        a.q_len = da.queries_per_seq;
        a.kv_len = da.keys_per_seq;
        a.heads = da.heads;
        a.qk_head_dim = da.qk_dim;
        a.v_head_dim = da.v_dim;
        // A cache is read only where there is one (decode, or prefill after a cached prefix);
        // a fresh prefill's K/V come from the step's own projections and the kernel is
        // compute-bound, which is how files without a context have always been timed.
        if (d.phase == models::Phase::Decode || d.context > 0)
            a.kv_bytes_per_token = da.cache_bytes_per_token;
        a.dtype = dtype;
        w.attention.push_back(a);
        w.text = "model MLA attention " + std::to_string(a.batch) + "x" + std::to_string(a.q_len);
        if (d.context > 0) w.text += " after " + std::to_string(d.context);
        if (d.phase == models::Phase::Decode) w.text += " decode";
        if (d.absorbed) w.text += " absorbed";
    } else if ((c.model_work == "dispatch" || c.model_work == "combine") && layer.gate != nullptr) {
        // A device sends each of its tokens to its top-k experts: tokens x k copies of FP8
        // values with 1x128 scales (dispatch) or BF16 values (combine).
        const bool dispatch = c.model_work == "dispatch";
        const models::OpKind kind = dispatch ? models::OpKind::Dispatch : models::OpKind::Combine;
        devices::CollectiveWork cw;
        cw.kind = dispatch ? devices::CollectiveKind::Dispatch : devices::CollectiveKind::Combine;
        cw.bytes =
            static_cast<double>(t * layer.gate->routing.top_k) * models::ep_bytes_per_copy(m, kind);
        cw.participants = d.ep;
        cw.members_per_domain = d.members_per_domain;
        w.collectives.push_back(cw);
        w.text = "model " + c.model_work + " " + fmt("%.1f MB", cw.bytes / 1e6) + " over EP" +
                 std::to_string(d.ep);
    } else {
        return fallback;
    }
    return w;
}

struct Totals {
    double variable = 0;  // seconds excluding fixed overheads
    double fixed = 0;     // mean fixed overhead per op, seconds
    std::string bound;
};

Totals cost_of(const devices::CostModel& cm, const WorkSet& w) {
    Totals t;
    double fixed = 0;
    int ops = 0;
    std::map<std::string, double> by_bound;
    auto add = [&](const devices::OpCost& c) {
        t.variable += c.seconds - c.overhead_seconds;
        fixed += c.overhead_seconds;
        by_bound[std::string(devices::bound_name(c.bound))] += c.seconds;
        ++ops;
    };
    for (const auto& g : w.gemms)
        add(cm.gemm_time(g));
    for (const auto& g : w.grouped)
        add(cm.grouped_gemm_time(g));
    for (const auto& a : w.attention)
        add(cm.attention_time(a));
    for (const auto& m : w.memory)
        add(cm.memory_op_time(m));
    for (const auto& c : w.collectives)
        add(cm.collective_time(c));
    t.fixed = ops > 0 ? fixed / ops : 0;
    double best = -1;
    for (const auto& [b, s] : by_bound)
        if (s > best) best = s, t.bound = b;
    return t;
}

}  // namespace

Retimer::Retimer(const devices::CostModel& from,
                 const devices::CostModel& to,
                 const RuleTable& rules,
                 const std::optional<models::ModelConfig>& model,
                 const std::optional<ReplayDeployment>& deployment,
                 int64_t participants)
    : from_(from), to_(to), rules_(rules) {
    const int64_t p = deployment ? deployment->ep : participants;
    const int64_t members = deployment ? deployment->members_per_domain : 0;
    std::optional<ReplayGraphs> graphs;
    for (const Category& c : rules.categories) {
        WorkSet w = probe_work(c, rules, p, members);
        if (model && deployment && !c.model_work.empty()) {
            if (!graphs) graphs = replay_graphs(*model, *deployment);
            w = model_work(c, *graphs, *deployment, rules, w);
        }
        Totals a = cost_of(from, w);
        Totals b = cost_of(to, w);
        CategoryScaling s;
        s.ratio = a.variable > 0 ? b.variable / a.variable : 1.0;
        s.fixed_from_us = a.fixed * 1e6;
        s.fixed_to_us = b.fixed * 1e6;
        s.basis = w.text + ": " + fmt("%.4g", a.variable * 1e6) + " us (" + a.bound + ") -> " +
                  fmt("%.4g", b.variable * 1e6) + " us (" + b.bound + ")";
        scaling_.push_back(std::move(s));
    }
}

Ns Retimer::retime(const Kernel& k, size_t category) const {
    const CategoryScaling& s = scaling_[category];
    const Category& c = rules_.categories[category];
    double ratio = s.ratio;
    double fixed_from = s.fixed_from_us * 1000.0;  // ns
    double fixed_to = s.fixed_to_us * 1000.0;
    if (c.resource == Resource::Memory && k.bytes > 0) {
        // The trace recorded this kernel's own traffic (memcpy / memset): use it.
        bool set = c.probe.bytes_read == 0;
        devices::MemoryWork w{c.name, set ? 0.0 : k.bytes, k.bytes, 0};
        devices::OpCost a = from_.memory_op_time(w);
        devices::OpCost b = to_.memory_op_time(w);
        double va = a.seconds - a.overhead_seconds;
        ratio = va > 0 ? (b.seconds - b.overhead_seconds) / va : 1.0;
        fixed_from = a.overhead_seconds * 1e9;
        fixed_to = b.overhead_seconds * 1e9;
    }
    const double d = static_cast<double>(k.dur);
    const double fixed = std::min(d, fixed_from);
    const double var = d - fixed;
    // A fixed cost the recording device does not have is added whole on the target.
    const double fixed_new = fixed_from > 0 ? fixed * fixed_to / fixed_from : fixed_to;
    return static_cast<Ns>(std::llround(fixed_new + var * ratio));
}

std::vector<Ns> Retimer::retime_all(const Trace& trace, const Classification& cls) const {
    std::vector<Ns> out(trace.kernels.size());
    for (size_t i = 0; i < out.size(); ++i)
        out[i] = retime(trace.kernels[i], cls.category[i]);
    return out;
}

}  // namespace dssim::traces
