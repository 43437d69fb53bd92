// The simulator's entry point: simulate(model, hardware, deployment, workload) -> metrics.
// One call builds the op graph of each micro-batch, maps every op onto the device cost model,
// lays the devices and links out as a topology, and runs the step on the SystemC kernel
// (docs/simulator.md). The call is reusable: one process may run any number of simulations
// (the SystemC host is elaborated once per process; each run uses dynamic processes), which is
// what validation and what-if sweeps need. Calls must not overlap: SystemC has one kernel per
// process, so simulate() serialises callers with a mutex; parallel sweeps use processes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/devices/calibration.h"
#include "dssim/devices/device_spec.h"
#include "dssim/devices/system_spec.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"

namespace dssim::sim {

// The machine: one kind of device, how devices are put together, how the device's kernels
// fall short of its peaks, and how FP8 layers run on it.
struct Hardware {
    devices::DeviceSpec device;
    devices::SystemSpec system;
    devices::Calibration calibration;
    devices::Fp8Mode fp8 = devices::Fp8Mode::Auto;
    // The system is one node that is repeated (over a non-blocking NIC fabric) as often as the
    // deployment needs; false: the system's own node count is the limit.
    bool replicate_nodes = false;
};
// Loads a device config (name or path) and its calibration. `system` empty: the device's own
// scale-up domain (single_node_system), replicated over nodes on a NIC fabric as needed. A
// system whose device differs from `device` is an InputError; `device` empty takes the
// system's device.
Hardware load_hardware(std::string_view device,
                       std::string_view system = {},
                       devices::Fp8Mode fp8 = devices::Fp8Mode::Auto);

// Parallel layout. Attention/dense parts: tp x dp = devices; routed experts over ep ranks
// (devices / ep replicas of the expert set). dp = 0 means devices / tp.
struct Deployment {
    int64_t devices = 1;
    int64_t tp = 1;
    int64_t ep = 1;
    int64_t dp = 0;
    int64_t redundant_experts = 0;
    // 1, 2 (two overlapped halves, as DeepSeek serves) or 0: auto, evaluate 1 and 2 and keep
    // the shorter step for the same tokens (ties: 1). Two micro-batches hide communication
    // behind compute but re-read every weight per micro-batch, which a memory-bound decode
    // on a small chip pays in full (docs/simulator.md "Micro-batches").
    int micro_batches = 0;
};

// One step of work. `batch` is sequences per device (per DP rank's share: the step holds
// batch * dp sequences). Prefill: each sequence has `input_len` new tokens after `context`
// cached ones. Decode: one new token per sequence (plus one draft per MTP module with `mtp`)
// attending to `context` cached tokens.
struct Workload {
    models::Phase phase = models::Phase::Decode;
    int64_t batch = 1;
    int64_t input_len = 4096;
    int64_t context = 0;
    bool mtp = false;
    // Probability that an MTP draft token is accepted (decode with mtp): tokens per step per
    // sequence = 1 + acceptance per module. The CLI default cites the V3 report (85-90%).
    double mtp_acceptance = 0.85;
    models::AttentionMode attention = models::AttentionMode::Absorbed;
    models::GemmMode gemm = models::GemmMode::Fp8;
    // Format of the latent KV cache (BF16, or FlashMLA's FP8: less memory, less decode traffic).
    models::KvCacheFormat kv_cache = models::KvCacheFormat::Bf16;
    // The pipeline stage the step runs (training chunks: a middle stage has no embedding,
    // head or loss); the whole model by default.
    models::PipelineStage stage;
};

enum class Mode { Symmetric, Full };
std::string_view mode_name(Mode m);

struct SimOptions {
    Mode mode = Mode::Symmetric;
    bool trace = false;  // keep the timeline for write_trace()
    // Full mode only: token-expert pairs per routed expert of MoE layer (HF index) for the
    // whole step (all micro-batches); split over micro-batches in proportion to their tokens.
    std::map<int64_t, std::vector<double>> expert_loads;
};

// Reads SimOptions::expert_loads from a JSON file (`dssim simulate --expert-loads FILE`):
//   {"schema": "dssim-expert-loads/1", "layers": {"3": [12, 0, 7, ...], ...}}
// Keys are HF layer indices of MoE layers of `model`; each array holds one count per routed
// expert (token-expert pairs of the whole step, finite and >= 0). Any problem is an InputError
// naming the file and the field.
std::map<int64_t, std::vector<double>> load_expert_loads(const std::string& path,
                                                         const models::ModelConfig& model);

// One layer's expert-load override as the step applied it, echoed in reports so a result says
// which routing it was computed under.
struct ExpertLoadSummary {
    int64_t layer = 0;           // HF layer index
    double pairs = 0;            // token-expert pairs of the whole step in this layer
    int64_t busiest_expert = 0;  // the expert with the most pairs (ties: lowest index)
    double busiest_pairs = 0;
    double max_over_mean = 0;  // busiest_pairs / mean pairs per expert (1: balanced; 0: no pairs)
};
// Summaries of SimOptions::expert_loads, in layer order.
std::vector<ExpertLoadSummary> summarise_expert_loads(
    const std::map<int64_t, std::vector<double>>& loads);

// Time accounted to one op kind or one resource on the reported device.
struct TimeShare {
    std::string name;
    double ms = 0;
};

// Busy time of one pass of a training step on the reported device (forward, backward_input,
// backward_weight, grad_sync), per stream.
struct PassTime {
    std::string pass;
    double compute_ms = 0;
    double comm_ms = 0;
};

struct MemoryUse {
    double weights = 0;  // bytes per device
    double kv_cache = 0;
    double activations = 0;
    double runtime_reserve = 0;  // kept by the serving runtime (system data or estimate)
    double capacity = 0;
    [[nodiscard]] double total() const {
        return weights + kv_cache + activations + runtime_reserve;
    }
};

// One timed op on one device's stream (for traces and tests).
struct TimelineEntry {
    int64_t device = 0;
    int stream = 0;  // 0 compute, 1 communication
    int micro_batch = 0;
    std::string name;  // stable graph name
    models::OpKind kind = models::OpKind::Elementwise;
    int64_t start_ps = 0;
    int64_t end_ps = 0;
    // Why it took its time (trace args): compute ops: the device's FLOPs and HBM bytes and the
    // cost model's compute and memory times; communication ops: the bytes the device sent.
    double flops = 0;
    double bytes = 0;
    double compute_us = 0;
    double memory_us = 0;
    std::string bound;  // compute | memory | communication
};
// A flow arrow of the trace: a transfer from a sending comm op to the receiving device's comm
// op (full mode), or a comm op to the compute op that consumes its data.
struct FlowEntry {
    size_t from = 0;  // timeline indices
    size_t to = 0;
    int64_t from_ps = 0;
    int64_t to_ps = 0;
    double bytes = 0;  // 0 for dependency arrows
};

struct SimResult {
    // Inputs echoed for reports.
    std::string model;
    std::string device;
    std::string system;
    Deployment deployment;  // micro_batches: the count that ran
    Workload workload;
    Mode mode = Mode::Symmetric;
    int micro_batches_requested = 0;  // as asked: 0 auto, 1 or 2
    // Auto with both counts evaluated: the step time of the count not chosen.
    std::optional<double> micro_batches_other_step_ms;
    int64_t simulated_devices = 0;
    int64_t reported_device = 0;  // the critical device (last to finish; ties: lowest id)
    // SimOptions::expert_loads as applied; empty: balanced routing in every layer.
    std::vector<ExpertLoadSummary> expert_loads;

    int64_t step_time_ps = 0;
    double step_time_ms = 0;
    double tokens_per_step = 0;  // all devices: input tokens (prefill) or output tokens (decode)
    double tokens_per_s = 0;
    double tokens_per_s_per_device = 0;
    std::optional<double> ttft_ms;  // prefill only
    std::optional<double> tpot_ms;  // decode only
    double mfu = 0;
    double hbm_bandwidth_utilization = 0;
    double exposed_comm_ms = 0;
    double compute_busy_ms = 0;
    double comm_busy_ms = 0;
    MemoryUse memory;
    bool fits = true;
    std::string fit_message;  // names what overflows when !fits
    std::vector<TimeShare> by_kind;
    std::vector<TimeShare> by_resource;
    std::vector<PassTime> by_pass;         // training steps (SystemC engine), passes in step order
    std::vector<std::string> assumptions;  // unknown figures replaced, and by what

    std::vector<TimelineEntry> timeline;  // with SimOptions::trace
    std::vector<FlowEntry> flows;
};

// Runs one step (both micro-batch counts with Deployment::micro_batches 0, each on the SystemC
// kernel, reporting the faster). Throws InputError for an invalid deployment or workload (naming
// the option) and for device figures the step needs but the config does not know.
SimResult simulate(const models::ModelConfig& model,
                   const Hardware& hardware,
                   const Deployment& deployment,
                   const Workload& workload,
                   const SimOptions& options = {});

// The report `dssim simulate --json` prints (deterministic: same inputs, same bytes).
OrderedJson result_to_json(const SimResult& r);

// How the step moves when each estimated stand-in for an unknown figure the step used (the
// calibration's `assumptions`: latencies, NIC bandwidth, on-chip buffer, runtime memory
// reserve) is halved and doubled, so a reader sees which unknowns a conclusion depends on
// (`dssim simulate --sensitivity`, docs/simulator.md "Sensitivity").
struct SensitivityRow {
    std::string figure;  // "assumptions.scale_out_latency"
    std::string unit;
    double value = 0;         // the estimate the step used
    std::string calibration;  // the calibration file it comes from
    double step_ms_half = 0;
    double step_ms_double = 0;
    bool fits_half = true;
    bool fits_double = true;
    [[nodiscard]] double swing_ms() const;  // |double - half|
};
struct Sensitivity {
    double step_ms = 0;  // the unchanged step
    bool fits = true;
    std::vector<SensitivityRow> rows;  // largest swing first (ties: figure name)
};
// `base` is simulate()'s result for the same inputs (its assumptions say which stand-ins the
// step used). Each variant is a full simulate() run.
Sensitivity sensitivity(const models::ModelConfig& model,
                        const Hardware& hardware,
                        const Deployment& deployment,
                        const Workload& workload,
                        const SimOptions& options,
                        const SimResult& base);
OrderedJson sensitivity_to_json(const Sensitivity& s);
// A tornado chart of `s` as a standalone SVG document (deterministic bytes).
std::string sensitivity_svg(const Sensitivity& s, const std::string& title);

// Chrome trace-event JSON of a run made with SimOptions::trace (Perfetto, chrome://tracing):
// one process per device, one thread per stream, ops named by their graph names,
// communication as flow events. write_trace() writes it atomically.
std::string trace_json(const SimResult& r);
void write_trace(const SimResult& r, const std::string& path);

}  // namespace dssim::sim
