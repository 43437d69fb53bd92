// simulate(): plan, run, and the metrics of docs/simulator.md ("What the numbers mean");
// load_hardware(), load_expert_loads() and the JSON report.
#include "dssim/sim/simulate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

#include "dssim/base/error.h"
#include "plan.h"

namespace dssim::sim {

using detail::Plan;
using detail::RunOutput;

std::string_view mode_name(Mode m) {
    return m == Mode::Symmetric ? "symmetric" : "full";
}

Hardware load_hardware(std::string_view device, std::string_view system, devices::Fp8Mode fp8) {
    Hardware hw;
    hw.fp8 = fp8;
    if (!system.empty()) {
        hw.system = devices::load_system(system);
        if (device.empty()) {
            hw.device = devices::load_device(hw.system.device);
        } else {
            hw.device = devices::load_device(device);
            if (hw.device.name != hw.system.device) {
                throw_input_error("", "--device",
                                  "'" + hw.device.name + "' is not the device of system " +
                                      hw.system.name + " ('" + hw.system.device +
                                      "'); omit --device or pick a system of this device");
            }
        }
    } else {
        if (device.empty()) throw_input_error("", "--device", "needed when --system is not given");
        hw.device = devices::load_device(device);
        hw.system = devices::single_node_system(hw.device);
        hw.replicate_nodes = true;
    }
    hw.calibration = devices::load_calibration(hw.device.calibration);
    return hw;
}

std::map<int64_t, std::vector<double>> load_expert_loads(const std::string& path,
                                                         const models::ModelConfig& model) {
    const Json doc = load_json_file(path);
    if (!doc.is_object()) throw_input_error(path, "", "expected a JSON object");
    JsonFields root(doc, path);
    const std::string schema = root.string("schema");
    if (schema != "dssim-expert-loads/1") {
        root.fail("schema", "expected \"dssim-expert-loads/1\", got \"" + schema + "\"");
    }
    JsonFields layers = root.object("layers");
    root.reject_unknown();
    std::map<int64_t, std::vector<double>> out;
    for (const auto& [key, value] : layers.json().items()) {
        int64_t layer = -1;
        const char* end = key.data() + key.size();
        const auto [ptr, ec] = std::from_chars(key.data(), end, layer);
        if (key.empty() || ec != std::errc() || ptr != end || layer < 0) {
            layers.fail(key, "expected a layer index (a whole number >= 0) as the key");
        }
        if (layer >= model.stored_layers() || !model.is_moe_layer(layer)) {
            layers.fail(key, "layer " + key + " of " + std::string(model.short_name()) +
                                 " has no routed experts");
        }
        if (out.count(layer) > 0) {
            layers.fail(key, "names layer " + std::to_string(layer) +
                                 " again (as another spelling of the same index)");
        }
        std::vector<double> loads = layers.numbers(key);
        const int64_t experts = models::routing_of(model).experts;
        if (static_cast<int64_t>(loads.size()) != experts) {
            layers.fail(key, "expected " + std::to_string(experts) +
                                 " counts (one per routed expert), got " +
                                 std::to_string(loads.size()));
        }
        for (size_t e = 0; e < loads.size(); ++e) {
            if (loads[e] < 0) {
                layers.fail(key + "[" + std::to_string(e) + "]", "a token count must be >= 0");
            }
        }
        out[layer] = std::move(loads);
    }
    if (out.empty()) root.fail("layers", "names no layer");
    return out;
}

std::vector<ExpertLoadSummary> summarise_expert_loads(
    const std::map<int64_t, std::vector<double>>& loads) {
    std::vector<ExpertLoadSummary> out;
    for (const auto& [layer, counts] : loads) {
        ExpertLoadSummary s;
        s.layer = layer;
        for (size_t e = 0; e < counts.size(); ++e) {
            s.pairs += counts[e];
            if (counts[e] > s.busiest_pairs) {
                s.busiest_pairs = counts[e];
                s.busiest_expert = static_cast<int64_t>(e);
            }
        }
        if (s.pairs > 0) {
            s.max_over_mean = s.busiest_pairs * static_cast<double>(counts.size()) / s.pairs;
        }
        out.push_back(s);
    }
    return out;
}

namespace {

double ms(int64_t ps) {
    return static_cast<double>(ps) * 1e-9;
}

// Length of the union of comm intervals not covered by compute intervals (both lists are
// sorted and non-overlapping: each stream runs one op at a time).
int64_t exposed(const std::vector<detail::Slice>& comm, const std::vector<detail::Slice>& comp) {
    int64_t total = 0;
    size_t j = 0;
    for (const auto& c : comm) {
        int64_t covered = 0;
        while (j < comp.size() && comp[j].end_ps <= c.start_ps)
            ++j;
        for (size_t k = j; k < comp.size() && comp[k].start_ps < c.end_ps; ++k) {
            covered += std::min(c.end_ps, comp[k].end_ps) - std::max(c.start_ps, comp[k].start_ps);
        }
        total += (c.end_ps - c.start_ps) - covered;
    }
    return total;
}

std::string gb(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
    return buf;
}

// The device that finishes last (ties: the first simulated).
size_t critical(const RunOutput& out) {
    size_t crit = 0;
    for (size_t i = 1; i < out.stats.size(); ++i) {
        if (out.stats[i].finish_ps > out.stats[crit].finish_ps) crit = i;
    }
    return crit;
}

SimResult report(const models::ModelConfig& model,
                 const Hardware& hw,
                 const Deployment& dep,
                 const Workload& wl,
                 const SimOptions& opt,
                 const Plan& plan,
                 const RunOutput& out) {
    const size_t crit = critical(out);
    const detail::DeviceStats& st = out.stats[crit];
    SimResult r =
        detail::step_result(model, hw, dep, wl, plan, st.finish_ps, st.ideal_s, st.hbm_bytes);
    r.simulated_devices = static_cast<int64_t>(out.simulated.size());
    r.reported_device = out.simulated[crit];
    r.exposed_comm_ms = ms(exposed(st.slices[1], st.slices[0]));
    int64_t busy[2] = {0, 0};
    std::vector<int64_t> kind_ps(models::kOpKindCount, 0);
    for (int s = 0; s < 2; ++s) {
        for (const auto& sl : st.slices[s]) {
            busy[s] += sl.end_ps - sl.start_ps;
            kind_ps[static_cast<size_t>(plan.ops()[static_cast<size_t>(sl.op)].op->kind)] +=
                sl.end_ps - sl.start_ps;
        }
    }
    r.compute_busy_ms = ms(busy[0]);
    r.comm_busy_ms = ms(busy[1]);
    if (wl.phase == models::Phase::Train) {
        int64_t pass_ps[4][2] = {};
        for (int s = 0; s < 2; ++s) {
            for (const auto& sl : st.slices[s]) {
                const auto pass = plan.ops()[static_cast<size_t>(sl.op)].op->pass;
                pass_ps[static_cast<size_t>(pass)][s] += sl.end_ps - sl.start_ps;
            }
        }
        for (int p = 0; p < 4; ++p) {
            r.by_pass.push_back(
                PassTime{std::string(models::pass_name(static_cast<models::Pass>(p))),
                         ms(pass_ps[p][0]), ms(pass_ps[p][1])});
        }
    }
    for (int k = 0; k < models::kOpKindCount; ++k) {
        if (kind_ps[static_cast<size_t>(k)] == 0) continue;
        r.by_kind.push_back(
            TimeShare{std::string(models::op_kind_name(static_cast<models::OpKind>(k))),
                      ms(kind_ps[static_cast<size_t>(k)])});
    }
    r.by_resource = {
        {"compute_stream", ms(busy[0])},
        {"compute_idle", ms(st.finish_ps - busy[0])},
        {"matrix_unit", st.matrix_busy_s * 1e3},
        {"hbm", ms(st.hbm_busy_ps)},
        {"communication_stream", ms(busy[1])},
        {"scale_up_egress", ms(st.port_busy_ps[0])},
        {"scale_out_egress", ms(st.port_busy_ps[1])},
    };

    if (!r.fits) {
        r.fit_message = "does not fit: weights " + gb(r.memory.weights) + " + KV cache " +
                        gb(r.memory.kv_cache) + " + activations " + gb(r.memory.activations) +
                        " + runtime reserve " + gb(r.memory.runtime_reserve) + " = " +
                        gb(r.memory.total()) + " per device exceeds the " + gb(r.memory.capacity) +
                        " of " + hw.device.name;
        const double over = r.memory.total() - r.memory.capacity;
        r.fit_message += r.memory.weights > r.memory.capacity
                             ? " (the weights alone overflow: use more devices or more EP/TP)"
                         : r.memory.kv_cache >= over
                             ? " (the KV cache overflows: lower --batch or --context)"
                             : " (lower --batch)";
    }

    if (opt.trace) {
        // Timeline: device by device, stream by stream, in execution order.
        std::vector<std::vector<size_t>> comm_entry(out.simulated.size());
        std::map<std::pair<int64_t, int32_t>, size_t> comm_index;  // (device, op) -> entry
        std::map<std::pair<int64_t, int32_t>, size_t> op_index;
        for (size_t i = 0; i < out.simulated.size(); ++i) {
            for (int s = 0; s < 2; ++s) {
                for (const auto& sl : out.stats[i].slices[s]) {
                    const detail::PlanOp& po = plan.ops()[static_cast<size_t>(sl.op)];
                    op_index[{out.simulated[i], sl.op}] = r.timeline.size();
                    TimelineEntry e{out.simulated[i], s,           po.micro_batch, po.op->name,
                                    po.op->kind,      sl.start_ps, sl.end_ps};
                    if (s == 0) {
                        const detail::OpTiming& t = plan.timing(po, out.simulated[i]);
                        e.flops = po.op->per_device.flops;
                        e.bytes = t.hbm_bytes;
                        e.compute_us = t.compute_s * 1e6;
                        e.memory_us = t.memory_s * 1e6;
                        e.bound = t.compute_s >= t.memory_s ? "compute" : "memory";
                    } else {
                        std::vector<detail::Transfer> sent;
                        plan.sends(out.simulated[i], plan.comm()[static_cast<size_t>(po.comm)],
                                   sent);
                        for (const auto& x : sent)
                            e.bytes += x.bytes;
                        e.bound = "communication";
                    }
                    r.timeline.push_back(std::move(e));
                }
            }
        }
        // Dependency arrows: each comm op to the compute ops that wait for it.
        for (size_t i = 0; i < out.simulated.size(); ++i) {
            for (const auto& sl : out.stats[i].slices[1]) {
                const detail::PlanOp& po = plan.ops()[static_cast<size_t>(sl.op)];
                for (int32_t n : po.succ) {
                    auto it = op_index.find({out.simulated[i], n});
                    if (it == op_index.end()) continue;
                    const TimelineEntry& to = r.timeline[it->second];
                    r.flows.push_back(FlowEntry{op_index[{out.simulated[i], sl.op}], it->second,
                                                sl.end_ps, to.start_ps, 0});
                }
            }
        }
        for (const auto& t : out.transfers) {
            auto a = op_index.find({t.src, t.op});
            auto b = op_index.find({t.dst, t.op});
            if (a == op_index.end() || b == op_index.end()) continue;
            const TimelineEntry& to = r.timeline[b->second];
            r.flows.push_back(FlowEntry{a->second, b->second, t.start_ps,
                                        std::clamp(t.end_ps, to.start_ps, to.end_ps), t.bytes});
        }
    }
    return r;
}

}  // namespace

SimResult simulate(const models::ModelConfig& model,
                   const Hardware& hw,
                   const Deployment& dep,
                   const Workload& wl,
                   const SimOptions& opt) {
    // Auto micro-batching runs both counts on the SystemC kernel (it is elaborated once per
    // process and every run is independent of the ones before), so the choice is made on the
    // numbers this path reports; ties keep one micro-batch (docs/simulator.md).
    struct Run {
        Plan plan;
        RunOutput out;
    };
    auto fastest = detail::keep_fastest(
        dep, wl,
        [&](const Deployment& d) {
            Plan plan = detail::build_plan(model, hw, d, wl, opt);
            RunOutput out = detail::run_plan(plan, opt.trace && opt.mode == Mode::Full);
            return Run{std::move(plan), std::move(out)};
        },
        [](const Run& run) { return run.out.stats[critical(run.out)].finish_ps; });
    SimResult r = report(model, hw, dep, wl, opt, fastest.best.plan, fastest.best.out);
    if (fastest.other_ps) r.micro_batches_other_step_ms = ms(*fastest.other_ps);
    r.expert_loads = summarise_expert_loads(opt.expert_loads);
    return r;
}

OrderedJson result_to_json(const SimResult& r) {
    OrderedJson j;
    j["model"] = r.model;
    j["device"] = r.device;
    j["system"] = r.system;
    j["phase"] = std::string(models::phase_name(r.workload.phase));
    j["mode"] = std::string(mode_name(r.mode));
    j["devices"] = r.deployment.devices;
    j["tp"] = r.deployment.tp;
    j["ep"] = r.deployment.ep;
    j["dp"] = r.deployment.dp;
    j["redundant_experts"] = r.deployment.redundant_experts;
    j["micro_batches"] = r.deployment.micro_batches;
    j["micro_batches_choice"] = r.micro_batches_requested == 0 ? "auto" : "given";
    j["micro_batches_other_step_ms"] = r.micro_batches_other_step_ms
                                           ? OrderedJson(*r.micro_batches_other_step_ms)
                                           : OrderedJson(nullptr);
    j["batch_per_device"] = r.workload.batch;
    if (r.workload.phase != models::Phase::Decode) j["input_len"] = r.workload.input_len;
    j["context"] = r.workload.context;
    j["mtp"] = r.workload.mtp;
    OrderedJson loads = OrderedJson::array();
    for (const auto& s : r.expert_loads) {
        OrderedJson l;
        l["layer"] = s.layer;
        l["pairs"] = s.pairs;
        l["busiest_expert"] = s.busiest_expert;
        l["busiest_pairs"] = s.busiest_pairs;
        l["max_over_mean"] = s.max_over_mean;
        loads.push_back(l);
    }
    j["expert_loads"] = loads;
    j["step_time_ms"] = r.step_time_ms;
    j["tokens_per_step"] = r.tokens_per_step;
    j["tokens_per_s"] = r.tokens_per_s;
    j["tokens_per_s_per_device"] = r.tokens_per_s_per_device;
    j["ttft_ms"] = r.ttft_ms ? OrderedJson(*r.ttft_ms) : OrderedJson(nullptr);
    j["tpot_ms"] = r.tpot_ms ? OrderedJson(*r.tpot_ms) : OrderedJson(nullptr);
    j["mfu"] = r.mfu;
    j["hbm_bandwidth_utilization"] = r.hbm_bandwidth_utilization;
    j["exposed_comm_ms"] = r.exposed_comm_ms;
    OrderedJson mem;
    mem["weights"] = std::llround(r.memory.weights);
    mem["kv_cache"] = std::llround(r.memory.kv_cache);
    mem["activations"] = std::llround(r.memory.activations);
    mem["runtime_reserve"] = std::llround(r.memory.runtime_reserve);
    mem["total"] = std::llround(r.memory.total());
    mem["capacity"] = std::llround(r.memory.capacity);
    j["memory_per_device_bytes"] = mem;
    j["fits"] = r.fits;
    if (!r.fits) j["fit_message"] = r.fit_message;
    OrderedJson kinds = OrderedJson::object();
    for (const auto& k : r.by_kind)
        kinds[k.name] = k.ms;
    OrderedJson res = OrderedJson::object();
    for (const auto& k : r.by_resource)
        res[k.name] = k.ms;
    j["time_by_op_kind_ms"] = kinds;
    j["time_by_resource_ms"] = res;
    if (!r.by_pass.empty()) {
        OrderedJson passes = OrderedJson::object();
        for (const auto& p : r.by_pass)
            passes[p.pass] = {{"compute", p.compute_ms}, {"communication", p.comm_ms}};
        j["time_by_pass_ms"] = passes;
    }
    j["simulated_devices"] = r.simulated_devices;
    j["reported_device"] = r.reported_device;
    j["assumptions"] = r.assumptions;
    return j;
}

}  // namespace dssim::sim
