// Predictions for validation cases. Kernel cases call the devices CostModel with the published
// shape; serving cases run the simulator on the deployment; training cases use the DualPipe
// step model (training.cpp). Every figure comes from configs/ (no constant here is a device
// figure or a fitted factor).
#include "dssim/validation/predict.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "dssim/base/error.h"
#include "dssim/base/gzip.h"
#include "dssim/devices.h"
#include "dssim/models/model_config.h"
#include "dssim/models/parallel.h"
#include "dssim/sim/simulate.h"
#include "dssim/validation/deployment.h"
#include "dssim/validation/training.h"

namespace dssim::validation {

namespace {

using devices::CostModel;
using devices::Precision;

std::string fmt(const char* f, double v) {
    char buf[96];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

Precision precision(const std::string& s, const Case& c) {
    auto p = devices::parse_precision(s);
    if (!p) throw_input_error(c.file, c.name + ".setup.dtype", "unknown precision '" + s + "'");
    return *p;
}

void cost_notes(const devices::OpCost& o, Prediction& p) {
    p.notes.push_back("bound: " + std::string(devices::bound_name(o.bound)) + ", runs as " +
                      std::string(devices::precision_name(o.executed_as)));
    if (o.compute_efficiency > 0) {
        p.notes.push_back(fmt("compute efficiency %.3f", o.compute_efficiency) +
                          fmt(", memory efficiency %.3f", o.memory_efficiency));
    }
    p.notes.push_back(fmt("time %.2f us", o.seconds * 1e6));
    for (const auto& a : o.assumptions)
        p.notes.push_back("assumption: " + a);
}

Prediction predict_gemm(const Case& c, const GemmSetup& s) {
    const CostModel cm = CostModel::for_device(s.device);
    const auto o = cm.gemm_time({s.m, s.n, s.k, precision(s.dtype, c), precision(s.out_dtype, c)});
    Prediction p;
    p.value = o.flops / o.seconds / 1e12;
    cost_notes(o, p);
    return p;
}

Prediction predict_grouped(const Case& c, const GroupedGemmSetup& s) {
    const CostModel cm = CostModel::for_device(s.device);
    devices::GroupedGemmShape g;
    g.m_per_group.assign(static_cast<size_t>(s.groups), s.m_per_group);
    g.n = s.n;
    g.k = s.k;
    g.dtype = precision(s.dtype, c);
    g.out_dtype = precision(s.out_dtype, c);
    const auto o = cm.grouped_gemm_time(g);
    Prediction p;
    p.value = o.flops / o.seconds / 1e12;
    cost_notes(o, p);
    return p;
}

Prediction predict_attention(const Case& c, const AttentionDecodeSetup& s) {
    const CostModel cm = CostModel::for_device(s.device);
    devices::AttentionWork w;
    w.phase = devices::AttentionPhase::Decode;
    w.batch = s.batch;
    w.q_len = s.q_len;
    w.kv_len = s.kv_len;
    w.heads = s.heads;
    w.qk_head_dim = s.qk_head_dim;
    w.v_head_dim = s.v_head_dim;
    w.kv_bytes_per_token = s.kv_bytes_per_token;
    w.dtype = Precision::BF16;
    const auto o = cm.attention_time(w);
    Prediction p;
    p.value = c.metric == Metric::Tflops ? o.flops / o.seconds / 1e12 : o.bytes / o.seconds / 1e9;
    cost_notes(o, p);
    return p;
}

// The expected distinct ranks and nodes per token under the benchmark's routing (one expert
// group per node, `kept_groups` groups kept): models::expected_fanout on a model whose groups
// are the nodes.
models::TokenFanout benchmark_fanout(const CollectiveSetup& s, int64_t ranks_per_node) {
    models::Routing r;
    r.experts = s.experts;
    r.top_k = s.topk;
    const int64_t nodes = std::max<int64_t>(1, s.participants / ranks_per_node);
    r.groups = s.experts % nodes == 0 ? nodes : 1;
    r.groups_kept = std::min(s.kept_groups, r.groups);
    return models::expected_fanout(r, s.participants, ranks_per_node);
}

// A DeepEP benchmark call through the cost model's EP all-to-all. Bandwidth cases use DeepEP's
// own byte counts: intranode, the tokens a rank receives (from itself too) x bytes per token;
// internode, token x destination node (its own node too).
Prediction predict_collective(const Case& c, const CollectiveSetup& s) {
    const CostModel cm = CostModel::for_system(s.system);
    const bool dispatch = s.kind == "dispatch";
    const auto& dom = cm.system().scale_up_domain;
    const int64_t domain = dom.known() ? static_cast<int64_t>(*dom.value) : 1;
    const int64_t per_node = std::min(s.participants, domain);
    const models::TokenFanout f = benchmark_fanout(s, per_node);
    devices::EpAllToAllWork w;
    w.kind = dispatch ? devices::CollectiveKind::Dispatch : devices::CollectiveKind::Combine;
    w.kernel = s.kernel == "normal" ? devices::EpKernel::Normal : devices::EpKernel::LowLatency;
    w.tokens = static_cast<double>(s.tokens);
    w.bytes_per_copy = dispatch ? models::dispatch_bytes_per_copy(s.hidden)
                                : models::combine_bytes_per_copy(s.hidden);
    if (w.kernel == devices::EpKernel::LowLatency && dispatch) {
        w.bytes_per_copy += models::kLowLatencyMessageHeader;
    }
    w.copies = static_cast<double>(s.topk);
    w.ranks = f.ranks;
    w.domains = f.nodes;
    w.participants = s.participants;
    const auto o = cm.ep_all_to_all_time(w);
    const bool intra = s.participants <= domain;
    const double deepep_bytes = w.tokens * (intra ? f.ranks : f.nodes) * w.bytes_per_copy;
    Prediction p;
    p.value = c.metric == Metric::LatencyUs ? o.seconds * 1e6 : deepep_bytes / o.seconds / 1e9;
    p.notes.push_back("bound: " + std::string(devices::bound_name(o.bound)) + ", " +
                      std::string(devices::ep_kernel_name(w.kernel)) + " kernel");
    p.notes.push_back(fmt("expected distinct ranks per token %.3f", f.ranks) +
                      fmt(", nodes %.3f", f.nodes));
    p.notes.push_back(
        fmt("per device: scale-up bytes %.0f", devices::ep_traffic(w, domain).scale_up_bytes) +
        fmt(", NIC bytes %.0f", devices::ep_traffic(w, domain).scale_out_bytes));
    p.notes.push_back(fmt("time %.2f us", o.seconds * 1e6) +
                      fmt(" (overhead and latency %.2f us)", o.overhead_seconds * 1e6));
    if (c.metric != Metric::LatencyUs) {
        p.notes.push_back(fmt("DeepEP's byte count %.0f", deepep_bytes) +
                          fmt(": the published bandwidth means %.2f us",
                              deepep_bytes / (c.published * 1e9) * 1e6));
    }
    for (const auto& a : o.assumptions)
        p.notes.push_back("assumption: " + a);
    return p;
}

// A CSV with a header line, read whole (the measured tables are small); every error names the
// file and line.
struct Csv {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    [[nodiscard]] size_t column(const std::string& file, const std::string& name) const {
        for (size_t i = 0; i < header.size(); ++i)
            if (header[i] == name) return i;
        throw_input_error(file, "header", "no column '" + name + "'");
    }
};

Csv read_csv(const std::string& file) {
    FileReader reader(file);  // plain or gzip
    std::istream& in = reader.stream();
    Csv csv;
    std::string line;
    size_t n = 0;
    auto split = [](const std::string& l) {
        std::vector<std::string> out;
        std::string cell;
        std::istringstream ss(l);
        while (std::getline(ss, cell, ','))
            out.push_back(cell);
        if (!l.empty() && l.back() == ',') out.emplace_back();
        return out;
    };
    while (std::getline(in, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        auto cells = split(line);
        if (csv.header.empty()) {
            csv.header = std::move(cells);
            continue;
        }
        if (cells.size() != csv.header.size()) {
            throw_input_error(file, "line " + std::to_string(n),
                              "has " + std::to_string(cells.size()) + " cells, the header " +
                                  std::to_string(csv.header.size()));
        }
        csv.rows.push_back(std::move(cells));
    }
    if (csv.rows.empty()) throw_input_error(file, "", "no rows");
    return csv;
}

double cell_number(const Csv& csv, size_t row, size_t col, const std::string& file) {
    const std::string& v = csv.rows[row][col];
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x)) {
        throw_input_error(file, "line " + std::to_string(row + 2) + " column " + csv.header[col],
                          "'" + v + "' is not a finite number");
    }
    return x;
}

// Every row of a measured DeepEP table through the cost model: one node of 8 ranks (times
// `node_num`), the row's routing drawn uniformly (the benchmark's random top-k) and, for the
// normal kernels, the SMs the row gave the kernel.
Prediction predict_deepep_table(const Case& c, const DeepepTableSetup& s) {
    const CostModel cm = CostModel::for_system(s.system);
    const Csv csv = read_csv(c.table);
    const bool dispatch = s.kind == "dispatch";
    const bool normal = s.kernel == "normal";
    const std::string time_col = normal ? s.kind + "_transmit_us" : s.kind + "_avg_t_us";
    const size_t c_nodes = csv.column(c.table, "node_num"),
                 c_hidden = csv.column(c.table, "hidden_size"),
                 c_tokens = csv.column(c.table, "num_token"),
                 c_topk = csv.column(c.table, "num_topk"),
                 c_experts = csv.column(c.table, "num_experts"),
                 c_time = csv.column(c.table, time_col);
    const size_t c_sms = normal ? csv.column(c.table, s.kind + "_sms") : 0;
    const auto& dom = cm.system().scale_up_domain;
    const int64_t domain = dom.known() ? static_cast<int64_t>(*dom.value) : 1;
    Prediction p;
    size_t skipped = 0;
    for (size_t r = 0; r < csv.rows.size(); ++r) {
        auto integer = [&](size_t col) {
            const double v = cell_number(csv, r, col, c.table);
            if (!(v >= 1) || v != std::floor(v)) {
                throw_input_error(c.table,
                                  "line " + std::to_string(r + 2) + " column " + csv.header[col],
                                  "must be a whole number >= 1");
            }
            return static_cast<int64_t>(v);
        };
        CollectiveSetup k;
        k.kind = s.kind;
        k.kernel = s.kernel;
        k.tokens = integer(c_tokens);
        k.hidden = integer(c_hidden);
        k.topk = integer(c_topk);
        k.experts = integer(c_experts);
        if (k.experts < s.min_experts) {
            ++skipped;
            continue;
        }
        k.participants = integer(c_nodes) * 8;
        k.kept_groups = 1;
        if (k.topk > k.experts) {
            throw_input_error(c.table, "line " + std::to_string(r + 2),
                              "num_topk exceeds num_experts");
        }
        const models::TokenFanout f = benchmark_fanout(k, std::min(k.participants, domain));
        devices::EpAllToAllWork w;
        w.kind = dispatch ? devices::CollectiveKind::Dispatch : devices::CollectiveKind::Combine;
        w.kernel = normal ? devices::EpKernel::Normal : devices::EpKernel::LowLatency;
        w.tokens = static_cast<double>(k.tokens);
        w.bytes_per_copy = dispatch ? models::dispatch_bytes_per_copy(k.hidden)
                                    : models::combine_bytes_per_copy(k.hidden);
        if (!normal && dispatch) w.bytes_per_copy += models::kLowLatencyMessageHeader;
        w.copies = static_cast<double>(k.topk);
        w.ranks = f.ranks;
        w.domains = f.nodes;
        w.participants = k.participants;
        if (normal) w.compute_units = integer(c_sms);
        const auto o = cm.ep_all_to_all_time(w);
        TableRow row;
        row.measured = cell_number(csv, r, c_time, c.table);
        row.predicted = o.seconds * 1e6;
        row.label = "tokens " + std::to_string(k.tokens) + ", hidden " + std::to_string(k.hidden) +
                    ", top-" + std::to_string(k.topk) + " of " + std::to_string(k.experts) +
                    (normal ? ", " + std::to_string(w.compute_units) + " SMs" : "");
        p.rows.push_back(std::move(row));
        if (p.rows.size() == 1) {
            for (const auto& a : o.assumptions)
                p.notes.push_back("assumption: " + a);
        }
    }
    if (p.rows.empty()) {
        throw_input_error(c.file, c.name + ".setup.min_experts", "leaves no row of the table");
    }
    if (skipped > 0) {
        p.notes.push_back(std::to_string(skipped) + " rows with fewer than " +
                          std::to_string(s.min_experts) + " experts left out");
    }
    return p;
}

// Every row of a measured GEMM table (aiconfigurator: m, n, k, latency in ms) of one dtype
// through the cost model's gemm_time on the device.
Prediction predict_gemm_table(const Case& c, const GemmTableSetup& s) {
    const CostModel cm = CostModel::for_device(s.device);
    const Csv csv = read_csv(c.table);
    const size_t c_dtype = csv.column(c.table, "gemm_dtype"), c_m = csv.column(c.table, "m"),
                 c_n = csv.column(c.table, "n"), c_k = csv.column(c.table, "k"),
                 c_lat = csv.column(c.table, "latency");
    const Precision prec = precision(s.dtype == "fp8_block" ? "fp8" : "bf16", c);
    Prediction p;
    size_t skipped = 0;
    for (size_t r = 0; r < csv.rows.size(); ++r) {
        if (csv.rows[r][c_dtype] != s.dtype) continue;
        auto dim = [&](size_t col) {
            const double v = cell_number(csv, r, col, c.table);
            if (!(v >= 1) || v != std::floor(v)) {
                throw_input_error(c.table,
                                  "line " + std::to_string(r + 2) + " column " + csv.header[col],
                                  "must be a whole number >= 1");
            }
            return static_cast<int64_t>(v);
        };
        const int64_t m = dim(c_m), n = dim(c_n), k = dim(c_k);
        if (2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) <
            s.min_flops) {
            ++skipped;
            continue;
        }
        const auto o = cm.gemm_time({m, n, k, prec, Precision::BF16});
        TableRow row;
        row.measured = cell_number(csv, r, c_lat, c.table) * 1e3;  // ms -> us
        row.predicted = o.seconds * 1e6;
        row.label =
            "m " + std::to_string(m) + ", n " + std::to_string(n) + ", k " + std::to_string(k);
        p.rows.push_back(std::move(row));
        if (p.rows.size() == 1) {
            for (const auto& a : o.assumptions)
                p.notes.push_back("assumption: " + a);
        }
    }
    if (p.rows.empty())
        throw_input_error(c.file, c.name + ".setup.dtype", "selects no row of the table");
    if (skipped > 0) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "%zu rows under %g FLOPs left out", skipped, s.min_flops);
        p.notes.push_back(buf);
    }
    return p;
}

}  // namespace

// The machine a deployment runs on, with the compute units its communication kernels hold
// taken out of every known matrix peak (the same share on a substitute device).
sim::Hardware deployment_hardware(const DeploymentConfig& d,
                                  const std::string& device_override,
                                  std::vector<std::string>& notes) {
    sim::Hardware hw = device_override.empty() ? sim::load_hardware(d.device, d.system)
                                               : sim::load_hardware(device_override);
    if (!device_override.empty()) hw.replicate_nodes = true;
    if (d.comm_compute_units > 0) {
        const devices::DeviceSpec own = devices::load_device(d.device);
        const double units = own.compute.compute_units.require(
            "compute.compute_units", "comm_compute_units of deployment " + d.name);
        const double keep = (units - static_cast<double>(d.comm_compute_units)) / units;
        if (!(keep > 0)) {
            throw_input_error(d.file, "comm_compute_units.value",
                              "leaves no compute units for the model");
        }
        for (const char* path :
             {"compute.peak_dense.fp32", "compute.peak_dense.bf16", "compute.peak_dense.fp16",
              "compute.peak_dense.fp8", "compute.peak_dense.int8"}) {
            if (hw.device.quantity(path).known()) hw.device = hw.device.scaled(path, keep);
        }
        notes.push_back(fmt("matrix peaks x %.4f: ", keep) + std::to_string(d.comm_compute_units) +
                        " of " + fmt("%.0f", units) + " " + own.compute.compute_unit_kind +
                        "s run communication");
    }
    return hw;
}

namespace {

Prediction predict_serving(const Case& c, const DeploymentSetup& s, const PredictOptions& opt) {
    const DeploymentConfig d = load_deployment(s.deployment);
    if (d.phase == models::Phase::Train) {
        throw_input_error(c.file, c.name + ".setup.deployment",
                          "'" + d.name + "' is a training deployment (use op training)");
    }
    Prediction p;
    const sim::Hardware hw = deployment_hardware(d, opt.device_override, p.notes);
    const models::ModelConfig model = models::resolve_model_config(d.model);
    const sim::SimResult r = sim::simulate(model, hw, d.parallel, d.workload);
    // "Per node" means a node of the deployment's own system (an 8-GPU H800 node), also when
    // another device runs it: a substitute's scale-up domain may be a 384-NPU supernode.
    const double per_node = devices::load_system(d.system).devices_per_node.require(
        "devices_per_node", "validation of " + c.name);
    double value = r.tokens_per_s_per_device * per_node;
    p.notes.push_back(fmt("step %.3f ms", r.step_time_ms) +
                      fmt(", %.0f tokens per step", r.tokens_per_step) +
                      fmt(", %.1f tokens/s per device", r.tokens_per_s_per_device) +
                      fmt(", exposed comm %.3f ms", r.exposed_comm_ms));
    if (d.cache_hit_rate) {
        value /= 1.0 - *d.cache_hit_rate;
        p.notes.push_back(
            fmt("computed tokens/s per node %.0f", r.tokens_per_s_per_device * per_node) +
            fmt(" / (1 - %.3f cache hits)", *d.cache_hit_rate));
    }
    if (!r.fits) p.notes.push_back(r.fit_message);
    for (const auto& a : r.assumptions)
        p.notes.push_back("assumption: " + a);
    p.value = value;
    return p;
}

Prediction predict_training(const Case& c, const DeploymentSetup& s, const PredictOptions& opt) {
    const DeploymentConfig d = load_deployment(s.deployment);
    if (!d.training) {
        throw_input_error(c.file, c.name + ".setup.deployment",
                          "'" + d.name + "' has no training block");
    }
    Prediction p;
    const sim::Hardware hw = deployment_hardware(d, opt.device_override, p.notes);
    const TrainingEstimate t = estimate_training(d, hw);
    p.value = c.metric == Metric::ChunkPairMs ? t.chunk_pair_ms : t.gpu_hours_per_trillion_tokens;
    p.notes.insert(p.notes.end(), t.notes.begin(), t.notes.end());
    return p;
}

}  // namespace

Prediction predict(const Case& c, const PredictOptions& opt) {
    if (const auto* g = std::get_if<GemmSetup>(&c.setup)) return predict_gemm(c, *g);
    if (const auto* g = std::get_if<GroupedGemmSetup>(&c.setup)) return predict_grouped(c, *g);
    if (const auto* a = std::get_if<AttentionDecodeSetup>(&c.setup))
        return predict_attention(c, *a);
    if (const auto* k = std::get_if<CollectiveSetup>(&c.setup)) return predict_collective(c, *k);
    if (const auto* t = std::get_if<DeepepTableSetup>(&c.setup)) return predict_deepep_table(c, *t);
    if (const auto* t = std::get_if<GemmTableSetup>(&c.setup)) return predict_gemm_table(c, *t);
    const auto& d = std::get<DeploymentSetup>(c.setup);
    return c.op == "serving" ? predict_serving(c, d, opt) : predict_training(c, d, opt);
}

}  // namespace dssim::validation
