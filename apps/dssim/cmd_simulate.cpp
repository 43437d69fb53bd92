// `dssim simulate`: one prefill or decode step of a DeepSeek model on a device (or a system
// of devices) under a parallel deployment, on the SystemC simulator (sim/, docs/simulator.md).
// Prints step time, throughput, TTFT/TPOT, MFU, HBM use, exposed communication, memory per
// device and whether it fits; --trace writes a Perfetto/chrome://tracing timeline (gzip for
// FILE.gz; --trace-devices keeps chosen devices);
// --expert-loads replaces balanced routing in chosen layers (full mode).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/gzip.h"
#include "dssim/base/progress.h"
#include "dssim/models/model_config.h"
#include "dssim/sim.h"

namespace dssim::cli {
namespace {

struct SimulateOptions {
    std::string model;
    std::string device;
    std::string system;
    std::string phase = "decode";
    int64_t devices = 1;
    int64_t tp = 1;
    int64_t ep = 1;
    int64_t dp = 0;
    int64_t redundant = 0;
    int64_t batch = 1;
    int64_t input_len = 4096;
    int64_t context = -1;
    bool mtp = false;
    double mtp_acceptance = 0.85;
    int micro_batches = 0;  // auto
    std::string mode = "symmetric";
    std::string fp8 = "auto";
    std::string attention;
    std::string gemm = "fp8";
    std::string kv_cache = "bf16";
    std::string expert_loads;
    bool json = false;
    bool sensitivity = false;
    std::string tornado;
    std::string trace;
    std::string trace_devices;  // "" all; "0,3,8-15"
};

// --trace-devices LIST: "0,3,8-15" -> the device numbers (sorted, unique); each in [0, n).
std::vector<int64_t> parse_device_list(const std::string& list, int64_t n) {
    std::vector<int64_t> out;
    size_t a = 0;
    while (a <= list.size()) {
        const size_t b = std::min(list.find(',', a), list.size());
        const std::string item = list.substr(a, b - a);
        const size_t dash = item.find('-');
        auto num = [&](const std::string& t) {
            if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos)
                throw_input_error(
                    "", "--trace-devices",
                    "expected device numbers or ranges like 0,3,8-15, got '" + list + "'");
            const int64_t v = std::stoll(t);
            if (v >= n)
                throw_input_error("", "--trace-devices",
                                  "device " + t + " is not in the deployment (0 to " +
                                      std::to_string(n - 1) + ")");
            return v;
        };
        const int64_t lo = num(item.substr(0, dash));
        const int64_t hi = dash == std::string::npos ? lo : num(item.substr(dash + 1));
        for (int64_t d = lo; d <= hi; ++d)
            out.push_back(d);
        a = b + 1;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// The trace of the chosen devices only: their timeline entries, and the flows whose both ends
// are kept (a 144-device full-mode trace is over a gigabyte of JSON).
sim::SimResult keep_devices(const sim::SimResult& r, const std::vector<int64_t>& devs) {
    sim::SimResult out = r;
    out.timeline.clear();
    out.flows.clear();
    std::vector<size_t> index(r.timeline.size(), SIZE_MAX);
    for (size_t i = 0; i < r.timeline.size(); ++i) {
        if (!std::binary_search(devs.begin(), devs.end(), r.timeline[i].device)) continue;
        index[i] = out.timeline.size();
        out.timeline.push_back(r.timeline[i]);
    }
    for (const auto& f : r.flows) {
        if (index[f.from] == SIZE_MAX || index[f.to] == SIZE_MAX) continue;
        sim::FlowEntry g = f;
        g.from = index[f.from];
        g.to = index[f.to];
        out.flows.push_back(g);
    }
    return out;
}

// Writes the trace; FILE.gz (e.g. trace.json.gz, which Perfetto opens) is gzip-compressed with
// a fixed header, so reruns give identical bytes.
void write_trace_file(const sim::SimResult& r, const std::string& path) {
    std::string text = sim::trace_json(r);
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) text = gzip_compress(text);
    write_file_atomic(path, text);
}

void print_text(const sim::SimResult& r) {
    const bool prefill = r.workload.phase == models::Phase::Prefill;
    std::printf("%s on %s (%s), %s, %s mode\n", r.model.c_str(), r.device.c_str(), r.system.c_str(),
                std::string(models::phase_name(r.workload.phase)).c_str(),
                std::string(sim::mode_name(r.mode)).c_str());
    std::printf(
        "deployment: %lld devices, tp %lld, ep %lld, dp %lld, %d micro-batch(es)%s; batch %lld "
        "per device",
        static_cast<long long>(r.deployment.devices), static_cast<long long>(r.deployment.tp),
        static_cast<long long>(r.deployment.ep), static_cast<long long>(r.deployment.dp),
        r.deployment.micro_batches, r.micro_batches_requested == 0 ? " (auto)" : "",
        static_cast<long long>(r.workload.batch));
    if (prefill) std::printf(", input %lld", static_cast<long long>(r.workload.input_len));
    std::printf(", context %lld%s\n", static_cast<long long>(r.workload.context),
                r.workload.mtp ? ", MTP" : "");
    if (r.expert_loads.empty()) std::printf("expert loads: balanced in every MoE layer\n");
    for (const auto& l : r.expert_loads) {
        std::printf(
            "expert loads, layer %lld: %.6g token-expert pairs, busiest expert %lld with %.6g "
            "(%.2fx the mean)\n",
            static_cast<long long>(l.layer), l.pairs, static_cast<long long>(l.busiest_expert),
            l.busiest_pairs, l.max_over_mean);
    }
    std::printf("\n");
    std::printf("  step time              %12.4f ms\n", r.step_time_ms);
    if (r.micro_batches_other_step_ms) {
        const std::string label =
            "with " + std::to_string(3 - r.deployment.micro_batches) +
            (r.deployment.micro_batches == 1 ? " micro-batches" : " micro-batch");
        std::printf("  %-23s%12.4f ms (not chosen)\n", label.c_str(),
                    *r.micro_batches_other_step_ms);
    }
    if (r.ttft_ms) std::printf("  TTFT                   %12.4f ms\n", *r.ttft_ms);
    if (r.tpot_ms) std::printf("  TPOT                   %12.4f ms\n", *r.tpot_ms);
    std::printf("  %s tokens/s       %12.1f (all devices)\n", prefill ? "input " : "output",
                r.tokens_per_s);
    std::printf("  tokens/s per device    %12.1f\n", r.tokens_per_s_per_device);
    std::printf("  MFU                    %12.4f\n", r.mfu);
    std::printf("  HBM bandwidth used     %12.4f\n", r.hbm_bandwidth_utilization);
    std::printf("  exposed communication  %12.4f ms\n", r.exposed_comm_ms);
    std::printf(
        "  memory per device      %12.2f GB (weights %.2f, KV cache %.2f, activations "
        "%.2f, runtime reserve %.2f; capacity %.2f)\n",
        r.memory.total() / 1e9, r.memory.weights / 1e9, r.memory.kv_cache / 1e9,
        r.memory.activations / 1e9, r.memory.runtime_reserve / 1e9, r.memory.capacity / 1e9);
    std::printf("  fits                   %12s\n", r.fits ? "yes" : "NO");
    std::printf("\ntime by op kind (device %lld, both streams)\n",
                static_cast<long long>(r.reported_device));
    for (const auto& k : r.by_kind)
        std::printf("  %-22s %12.4f ms\n", k.name.c_str(), k.ms);
    std::printf("time by resource\n");
    for (const auto& k : r.by_resource)
        std::printf("  %-22s %12.4f ms\n", k.name.c_str(), k.ms);
    if (!r.assumptions.empty()) {
        std::printf("assumptions (unknown figures)\n");
        for (const auto& a : r.assumptions)
            std::printf("  - %s\n", a.c_str());
    }
}

void print_sensitivity(const sim::Sensitivity& s) {
    std::printf("\nsensitivity to estimated figures (step %.4f ms as simulated)\n", s.step_ms);
    if (s.rows.empty()) {
        std::printf("  none: the step used no estimated stand-in for an unknown figure\n");
        return;
    }
    std::printf("  %-36s %12s %14s %14s %10s\n", "figure", "estimate", "step at x0.5", "step at x2",
                "swing");
    for (const auto& r : s.rows) {
        char value[48];
        std::snprintf(value, sizeof value, "%g %s", r.value, r.unit.c_str());
        std::printf(
            "  %-36s %12s %11.4f ms %11.4f ms %7.2f %%%s%s\n", r.figure.c_str(), value,
            r.step_ms_half, r.step_ms_double, s.step_ms > 0 ? r.swing_ms() / s.step_ms * 100 : 0.0,
            r.fits_half == s.fits ? ""
                                  : (r.fits_half ? " (fits at x0.5)" : " (does not fit at x0.5)"),
            r.fits_double == s.fits ? ""
                                    : (r.fits_double ? " (fits at x2)" : " (does not fit at x2)"));
    }
}

// The value a two-way option names: `a` or `b`, else an InputError listing both.
template <class T>
T either(const char* option,
         const std::string& what,
         const std::string& value,
         const char* a,
         T a_value,
         const char* b,
         T b_value) {
    if (value == a) return a_value;
    if (value == b) return b_value;
    throw_input_error("", option, "unknown " + what + " '" + value + "' (" + a + " or " + b + ")");
}

void run_simulate(const SimulateOptions& o) {
    models::ModelConfig model = models::resolve_model_config(o.model);
    auto fp8 = devices::parse_fp8_mode(o.fp8);
    if (!fp8)
        throw_input_error("", "--fp8", "unknown mode '" + o.fp8 + "' (auto, native, int8, bf16)");
    sim::Hardware hw = sim::load_hardware(o.device, o.system, *fp8);

    sim::Workload wl;
    wl.phase = either("--phase", "phase", o.phase, "prefill", models::Phase::Prefill, "decode",
                      models::Phase::Decode);
    const bool prefill = wl.phase == models::Phase::Prefill;
    wl.batch = o.batch;
    wl.input_len = o.input_len;
    // Decode attends to the prompt unless --context says otherwise; prefill has no prefix.
    wl.context = o.context >= 0 ? o.context : (prefill ? 0 : o.input_len);
    wl.mtp = o.mtp;
    wl.mtp_acceptance = o.mtp_acceptance;
    const std::string attention =
        o.attention.empty() ? (prefill ? "naive" : "absorbed") : o.attention;
    wl.attention = either("--attention", "mode", attention, "naive", models::AttentionMode::Naive,
                          "absorbed", models::AttentionMode::Absorbed);
    wl.gemm = either("--gemm", "mode", o.gemm, "fp8", models::GemmMode::Fp8, "bf16",
                     models::GemmMode::Bf16);
    wl.kv_cache = either("--kv-cache", "format", o.kv_cache, "bf16", models::KvCacheFormat::Bf16,
                         "fp8", models::KvCacheFormat::Fp8);

    sim::Deployment dep;
    dep.devices = o.devices;
    dep.tp = o.tp;
    dep.ep = o.ep;
    dep.dp = o.dp;
    dep.redundant_experts = o.redundant;
    dep.micro_batches = o.micro_batches;

    sim::SimOptions opt;
    opt.mode = either("--mode", "mode", o.mode, "symmetric", sim::Mode::Symmetric, "full",
                      sim::Mode::Full);
    opt.trace = !o.trace.empty();
    if (!o.expert_loads.empty()) opt.expert_loads = sim::load_expert_loads(o.expert_loads, model);

    // A full-mode step of many devices runs for seconds without a word: say so on stderr.
    std::optional<Activity> activity;
    if (opt.mode == sim::Mode::Full)
        activity.emplace("simulate: full mode, " + std::to_string(dep.devices) + " devices");
    const sim::SimResult r = sim::simulate(model, hw, dep, wl, opt);
    if (activity) activity->finish();
    if (!o.trace.empty()) {
        if (o.trace_devices.empty())
            write_trace_file(r, o.trace);
        else
            write_trace_file(keep_devices(r, parse_device_list(o.trace_devices, dep.devices)),
                             o.trace);
    }
    std::optional<sim::Sensitivity> sens;
    if (o.sensitivity) {
        std::optional<Activity> busy;
        busy.emplace("simulate: sensitivity (each estimate halved and doubled)");
        sens = sim::sensitivity(model, hw, dep, wl, opt, r);
        busy->finish();
        if (!o.tornado.empty()) {
            write_file_atomic(
                o.tornado,
                sim::sensitivity_svg(*sens, r.model + " on " + r.device + ", " +
                                                std::string(models::phase_name(r.workload.phase))));
        }
    }
    if (o.json) {
        OrderedJson j = sim::result_to_json(r);
        if (sens) j["sensitivity"] = sim::sensitivity_to_json(*sens);
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        print_text(r);
        if (sens) print_sensitivity(*sens);
    }
    if (!r.fits) std::fprintf(stderr, "dssim simulate: %s\n", r.fit_message.c_str());
}

}  // namespace

void add_simulate_command(CLI::App& app) {
    auto opt = std::make_shared<SimulateOptions>();
    CLI::App* cmd = app.add_subcommand(
        "simulate",
        "Simulate one prefill or decode step of a model on devices (SystemC; docs/simulator.md)");
    cmd->add_option("--model", opt->model,
                    "Model: built-in name (deepseek-v3, ...) or a config.json path")
        ->required();
    cmd->add_option("--device", opt->device,
                    "Device: built-in name (h800, ascend-910c, ...) or a device JSON path; "
                    "optional with --system (its device)");
    cmd->add_option("--system", opt->system,
                    "System: node/supernode/cluster config (hgx-h800-8, h800-cluster-2048, ...). "
                    "Default: the device's own scale-up domain, repeated over a NIC fabric");
    cmd->add_option("--phase", opt->phase, "prefill or decode (default decode)");
    cmd->add_option("--devices", opt->devices, "Devices in the deployment (default 1)");
    cmd->add_option("--tp", opt->tp, "Tensor-parallel degree of attention and dense layers");
    cmd->add_option("--ep", opt->ep, "Expert-parallel degree of the routed experts");
    cmd->add_option("--dp", opt->dp, "Data-parallel degree of attention (default devices / tp)");
    cmd->add_option("--redundant-experts", opt->redundant,
                    "Extra expert slots replicating the busiest experts (DeepSeek serves with 32)");
    cmd->add_option("--batch", opt->batch, "Sequences per device (each DP rank's share)");
    cmd->add_option("--input-len", opt->input_len,
                    "Prompt tokens per sequence (prefill: new tokens; decode: the default "
                    "--context). Default 4096");
    cmd->add_option("--context", opt->context,
                    "Cached tokens per sequence before the step (decode default: --input-len; "
                    "prefill default 0)");
    CLI::Option* mtp = cmd->add_flag("--mtp", opt->mtp,
                                     "Run the MTP module(s): decode verifies one draft per module");
    // Without --mtp there are no drafts to accept: the value would be ignored silently.
    cmd->add_option("--mtp-acceptance", opt->mtp_acceptance,
                    "Accepted fraction of MTP drafts, 0 to 1 (default 0.85, V3 report: "
                    "85-90%); needs --mtp")
        ->needs(mtp)
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--micro-batches", opt->micro_batches,
                    "0 = auto (default): run 1 and 2 and keep the shorter step (ties: 1); 1; or 2 "
                    "overlapped halves of the batch, as DeepSeek serves");
    cmd->add_option("--mode", opt->mode,
                    "symmetric (one representative device, balanced load; default) or full "
                    "(every device)");
    cmd->add_option("--fp8", opt->fp8,
                    "How FP8 layers run: auto (native if the device has FP8, else its fallback), "
                    "native, int8, bf16");
    cmd->add_option("--attention", opt->attention,
                    "MLA form: naive (prefill default) or absorbed (decode default)");
    cmd->add_option("--gemm", opt->gemm,
                    "GEMM inputs: fp8 (act_quant + FP8 GEMM, DeepSeek serving; default) or bf16");
    cmd->add_option("--kv-cache", opt->kv_cache,
                    "Latent KV cache format: bf16 (default; 1152 bytes per token per V3 layer) or "
                    "fp8 (FlashMLA's format, 656 bytes: E4M3 latent, FP32 scales, BF16 rope)");
    cmd->add_option("--expert-loads", opt->expert_loads,
                    "Routed-expert loads of chosen MoE layers from a JSON file (token-expert "
                    "pairs per expert for the whole step; docs/cli.md); needs --mode full");
    cmd->add_flag("--json", opt->json, "Print the report as JSON on stdout");
    CLI::Option* sensitivity = cmd->add_flag(
        "--sensitivity", opt->sensitivity,
        "Also simulate the step with each estimated stand-in for an unknown figure (link "
        "latencies, NIC bandwidth, on-chip buffer, runtime memory reserve) halved and doubled, "
        "and report how the step time moves");
    cmd->add_option("--tornado", opt->tornado,
                    "With --sensitivity: write the result as a tornado chart to FILE.svg")
        ->needs(sensitivity);
    CLI::Option* trace = cmd->add_option(
        "--trace", opt->trace,
        "Write a Chrome trace-event JSON timeline to FILE (Perfetto, chrome://tracing); "
        "FILE.json.gz is written gzip-compressed (Perfetto opens it)");
    cmd->add_option("--trace-devices", opt->trace_devices,
                    "Only these devices in the trace, e.g. 0,3,8-15 (full mode writes every "
                    "device otherwise)")
        ->needs(trace);
    cmd->callback([opt] { run_simulate(*opt); });
}

}  // namespace dssim::cli
