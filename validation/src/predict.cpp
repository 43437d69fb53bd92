// Predictions for validation cases. Kernel cases call the devices CostModel with the published
// shape; serving cases run the simulator on the deployment; training cases use the DualPipe
// step model (training.cpp). Every figure comes from configs/ (no constant here is a device
// figure or a fitted factor).
#include "dssim/validation/predict.h"

#include <cmath>
#include <cstdio>

#include "dssim/base/error.h"
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

// DeepEP moves tokens x topk copies; dispatch carries FP8 values plus one FP32 scale per 128
// (DeepSeek's 1x128 activation tiles), combine BF16 values.
Prediction predict_collective(const Case& c, const CollectiveSetup& s) {
    const CostModel cm = CostModel::for_system(s.system);
    const bool dispatch = s.kind == "dispatch";
    const double token_bytes = dispatch ? models::dispatch_bytes_per_copy(s.hidden)
                                        : models::combine_bytes_per_copy(s.hidden);
    devices::CollectiveWork w;
    w.kind = dispatch ? devices::CollectiveKind::Dispatch : devices::CollectiveKind::Combine;
    w.bytes = static_cast<double>(s.tokens * s.topk) * token_bytes;
    w.participants = s.participants;
    const auto o = cm.collective_time(w);
    const auto& dom = cm.system().scale_up_domain;
    const double domain = dom.known() ? *dom.value : 1.0;
    const double p_ = static_cast<double>(s.participants);
    const double members = std::min(p_, domain);
    // DeepEP's bottleneck: NVLink inside one node, RDMA once the group spans nodes.
    const bool intra = p_ <= domain;
    const double link_bytes = intra ? w.bytes * (members - 1) / p_ : w.bytes * (p_ - members) / p_;
    Prediction p;
    p.value = c.metric == Metric::LatencyUs ? o.seconds * 1e6 : link_bytes / o.seconds / 1e9;
    p.notes.push_back("bound: " + std::string(devices::bound_name(o.bound)));
    p.notes.push_back(fmt("bytes sent per device %.0f", w.bytes) + ", over " +
                      (intra ? "NVLink " : "the NIC ") + fmt("%.0f", link_bytes));
    p.notes.push_back(fmt("time %.2f us", o.seconds * 1e6));
    for (const auto& a : o.assumptions)
        p.notes.push_back("assumption: " + a);
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
    const auto& d = std::get<DeploymentSetup>(c.setup);
    return c.op == "serving" ? predict_serving(c, d, opt) : predict_training(c, d, opt);
}

}  // namespace dssim::validation
