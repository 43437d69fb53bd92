// Classification, dependency inference, list scheduling and duration mapping for trace
// replay (docs/replay.md gives the rules in prose).
#include "dssim/traces/replay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"

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
    if (s.mtp && s.phase == models::Phase::Decode && m.num_nextn_predict_layers == 0) {
        throw_input_error(s.file, "workload.mtp",
                          "model " + std::string(m.short_name()) + " has no MTP module");
    }
    ReplayDeployment d;
    d.file = s.file;
    d.name = s.name;
    d.schema = "dssim-deployment/1";
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
    // A decode step verifies one draft per MTP module with the main model, so every sequence
    // carries 1 + drafts tokens through the GEMMs, the dispatch and the attention queries.
    if (s.phase == models::Phase::Decode && s.mtp) len += m.num_nextn_predict_layers;
    d.seq_len = len;
    d.tokens = seqs * len;
    return d;
}

std::string replay_shape_difference(const models::ModelConfig& a, const models::ModelConfig& b) {
    // Every size model_work() reads, plus the MTP depth decode tokens are derived from.
    const std::pair<const char*, int64_t models::ModelConfig::*> fields[] = {
        {"hidden_size", &models::ModelConfig::hidden_size},
        {"num_attention_heads", &models::ModelConfig::num_attention_heads},
        {"q_lora_rank", &models::ModelConfig::q_lora_rank},
        {"kv_lora_rank", &models::ModelConfig::kv_lora_rank},
        {"qk_nope_head_dim", &models::ModelConfig::qk_nope_head_dim},
        {"qk_rope_head_dim", &models::ModelConfig::qk_rope_head_dim},
        {"v_head_dim", &models::ModelConfig::v_head_dim},
        {"n_routed_experts", &models::ModelConfig::n_routed_experts},
        {"num_experts_per_tok", &models::ModelConfig::num_experts_per_tok},
        {"moe_intermediate_size", &models::ModelConfig::moe_intermediate_size},
        {"num_nextn_predict_layers", &models::ModelConfig::num_nextn_predict_layers},
    };
    for (const auto& [name, field] : fields) {
        if (a.*field != b.*field)
            return std::string(name) + " " + std::to_string(a.*field) + " vs " +
                   std::to_string(b.*field);
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

// Work of a category derived from the model and the deployment (docs/replay.md).
WorkSet model_work(const Category& c,
                   const models::ModelConfig& m,
                   const ReplayDeployment& d,
                   const RuleTable& rules,
                   WorkSet fallback) {
    WorkSet w;
    const int64_t t = d.tokens;
    const auto dtype = precision_of(c.probe.dtype, rules.file);
    if (c.model_work == "dense_gemm") {
        const int64_t h = m.hidden_size, heads = m.num_attention_heads;
        auto add = [&](int64_t n, int64_t k) {
            w.gemms.push_back({t, n, k, dtype, devices::Precision::BF16});
        };
        if (m.q_lora_rank > 0) {
            add(m.q_lora_rank, h);
            add(heads * m.qk_head_dim(), m.q_lora_rank);
        } else {
            add(heads * m.qk_head_dim(), h);
        }
        add(m.kv_lora_rank + m.qk_rope_head_dim, h);
        add(heads * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank);
        add(h, heads * m.v_head_dim);
        w.text = "model MLA projections at " + std::to_string(t) + " tokens, " + c.probe.dtype;
    } else if (c.model_work == "expert_gemm") {
        const int64_t local = std::max<int64_t>(1, m.n_routed_experts / d.ep);
        const int64_t rows = std::max<int64_t>(
            1, t * m.num_experts_per_tok * d.ep / std::max<int64_t>(1, m.n_routed_experts));
        devices::GroupedGemmShape up, down;
        up.m_per_group.assign(static_cast<size_t>(local), rows);
        up.n = 2 * m.moe_intermediate_size;
        up.k = m.hidden_size;
        up.dtype = dtype;
        down = up;
        down.n = m.hidden_size;
        down.k = m.moe_intermediate_size;
        w.grouped = {up, down};
        w.text = "model experts: " + std::to_string(local) + " local x " + std::to_string(rows) +
                 " rows, up+gate and down";
    } else if (c.model_work == "attention") {
        devices::AttentionWork a;
        a.phase = d.phase == models::Phase::Decode ? devices::AttentionPhase::Decode
                                                   : devices::AttentionPhase::Prefill;
        a.batch = std::max<int64_t>(1, t / d.seq_len);
        a.q_len = d.seq_len;
        a.kv_len = d.context + d.seq_len;
        a.heads = m.num_attention_heads;
        // Per-head dims and KV cache per token as the op graph has them (models/op_graph.cpp):
        // absorbed attends over the latent (r + rope, values r), naive over up-projected K/V.
        const int64_t r = m.kv_lora_rank, dr = m.qk_rope_head_dim;
        a.qk_head_dim = d.absorbed ? r + dr : m.qk_head_dim();
        a.v_head_dim = d.absorbed ? r : m.v_head_dim;
        // A cache is read only where there is one (decode, or prefill after a cached prefix);
        // a fresh prefill's K/V come from the step's own projections and the kernel is
        // compute-bound, which is how files without a context have always been timed.
        if (d.phase == models::Phase::Decode || d.context > 0) {
            const int64_t per_token =
                d.absorbed ? r + dr
                           : m.num_attention_heads * (m.qk_nope_head_dim + dr + m.v_head_dim);
            a.kv_bytes_per_token = static_cast<double>(per_token) * 2.0;  // BF16 cache
        }
        a.dtype = dtype;
        w.attention.push_back(a);
        w.text = "model MLA attention " + std::to_string(a.batch) + "x" + std::to_string(d.seq_len);
        if (d.context > 0) w.text += " after " + std::to_string(d.context);
        if (d.phase == models::Phase::Decode) w.text += " decode";
        if (d.absorbed) w.text += " absorbed";
    } else if (c.model_work == "dispatch" || c.model_work == "combine") {
        devices::CollectiveWork cw;
        const double per_token =
            c.model_work == "dispatch"
                ? static_cast<double>(m.hidden_size) * (1.0 + 4.0 / 128.0)  // FP8 + scales
                : static_cast<double>(m.hidden_size) * 2.0;                 // BF16
        cw.kind = c.model_work == "dispatch" ? devices::CollectiveKind::Dispatch
                                             : devices::CollectiveKind::Combine;
        cw.bytes = static_cast<double>(t * m.num_experts_per_tok) * per_token;
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
    for (const Category& c : rules.categories) {
        WorkSet w = probe_work(c, rules, p, members);
        if (model && deployment && !c.model_work.empty())
            w = model_work(c, *model, *deployment, rules, w);
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
