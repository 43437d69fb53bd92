// Re-timing a recorded timeline on another device, keeping its streams, dependencies and
// overlap (docs/replay.md):
//   1. classify every kernel with the rule table;
//   2. infer dependencies: stream order, flow arrows, and cross-stream waits read off the
//      recorded start times (infer_dependencies);
//   3. map each kernel's duration from the recording device to the target device through the
//      two devices' cost models (Retimer);
//   4. list-schedule the kernels again over their streams with the new durations (schedule):
//      a kernel starts when its stream predecessor and its dependencies are done, plus the
//      host-side lag it had in the recording.
// Replaying on the recording device itself reproduces the recorded timeline.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/devices/cost_model.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/traces/rules.h"
#include "dssim/traces/trace.h"

namespace dssim::traces {

// Category index of every kernel, plus the kernels no rule matched.
struct Classification {
    std::vector<uint16_t> category;          // per kernel
    std::map<std::string, int64_t> unknown;  // unmatched kernel name -> count
    int64_t unknown_kernels = 0;
};
Classification classify(const Trace& trace, const RuleTable& rules);

// Dependencies of every kernel besides its stream predecessor.
struct Dependencies {
    std::vector<int64_t> stream_pred;          // previous kernel on the same stream, -1 none
    std::vector<std::vector<uint32_t>> cross;  // other-stream producers (flows + inferred)
    std::vector<Ns> lag;  // recorded start - latest recorded end among all producers (the
                          // binding one); for kernels without producers: start - trace begin
    int64_t flow_edges = 0;
    int64_t inferred_edges = 0;
    int64_t dropped_edges = 0;  // edges that would close a cycle (not kept)
};
Dependencies infer_dependencies(const Trace& trace,
                                const Classification& cls,
                                const RuleTable& rules);

// A timed version of a trace's kernels (same indices as Trace::kernels).
struct Schedule {
    std::vector<Ns> start;
    std::vector<Ns> dur;
    std::vector<int64_t> binding;  // kernel whose end decided the start, -1: trace begin
    [[nodiscard]] Ns begin() const;
    [[nodiscard]] Ns end() const;
};
// The schedule exactly as recorded (binding = latest-ending producer).
Schedule recorded_schedule(const Trace& trace, const Dependencies& deps);
// List schedule with new durations, in recorded-start order (a topological order of the
// dependencies): start = max(end of stream predecessor, max end of producers + lag).
Schedule list_schedule(const Trace& trace, const Dependencies& deps, const std::vector<Ns>& dur);

// The deployment a trace was recorded under, as far as replay needs it. One micro-batch on
// one device: the recorded kernels each process one micro-batch.
struct ReplayDeployment {
    std::string file;
    std::string name;                // the file's `name` (or the built-in deployment name)
    std::string schema;              // the schema it was read from (for the report's notes)
    int64_t ep = 0;                  // expert-parallel group size (dispatch/combine participants)
    int64_t tokens = 0;              // tokens per device per micro-batch (GEMM rows, EP payload)
    int64_t seq_len = 0;             // new tokens per sequence (the attention queries)
    int64_t context = 0;             // cached tokens per sequence before them
    int64_t members_per_domain = 0;  // EP members per scale-up domain (0: as many as fit)
    // The phase the trace was recorded in, as far as the attention kernels' work goes: prefill
    // and training attend over the step's own new tokens (after an optional cached prefix);
    // decode attends with a few queries per sequence over a KV cache (its cost is reading it).
    models::Phase phase = models::Phase::Prefill;
    bool absorbed = false;  // attention over the latent cache (MLA absorbed) vs up-projected K/V
};
// Schema `dssim-replay-deployment/1` (docs/replay.md): ep, tokens_per_micro_batch, seq_len,
// optional members_per_domain, phase, context, attention, name, description.
ReplayDeployment parse_replay_deployment(const Json& json, const std::string& file);
ReplayDeployment load_replay_deployment(const std::filesystem::path& path);
// "EP64, 4096 tokens per micro-batch, sequence 4096" (+ context, phase, attention if set).
std::string describe(const ReplayDeployment& d);

// The step of a general deployment (schema `dssim-deployment/1`, validation's
// DeploymentConfig) that replay derives its fields from. The CLI fills it: validation links
// the SystemC simulator, which this library must not see, so the parsed config is handed down
// as plain values.
struct DeploymentStep {
    std::string file;
    std::string name;
    models::Phase phase = models::Phase::Prefill;
    int64_t tp = 1;
    int64_t ep = 1;
    int64_t micro_batches = 1;  // overlapped micro-batches per device step (1 or 2)
    int64_t batch = 1;          // sequences per device per step (all micro-batches)
    int64_t input_len = 1;      // new tokens per sequence (1 in decode)
    int64_t context = 0;        // cached tokens per sequence before them
    bool mtp = false;           // decode: one draft token per MTP module is verified per step
    bool absorbed = false;      // workload.attention "absorbed"
};
// One recorded micro-batch of that step, split as the simulator splits it (docs/replay.md):
// sequences halved with the first half taking the odd one, or a single prompt's tokens halved;
// decode sequences carry 1 + MTP drafts tokens (one per MTP module of the model's op graph).
// Errors name the step's file and field.
ReplayDeployment replay_deployment_from(const DeploymentStep& step, const models::ModelConfig& m);
// The first shape that replay's model-derived work reads and that differs between two models'
// op graphs: an op of the first MoE layer (attention projections, MLA core, router, expert
// projections) and its dimension, as "layers.3.attn.wq_a: k 7168 vs 5120" ("X vs Y: different
// ops" where the layers differ in structure), or "mtp: modules 1 vs 0". Empty when the shapes
// agree (deepseek-r1 has deepseek-v3's shapes, so a V3 deployment replays R1 the same).
std::string replay_shape_difference(const models::ModelConfig& a, const models::ModelConfig& b);

// How one category's time changes between the two devices.
struct CategoryScaling {
    double ratio = 1;          // variable part: time on `to` / time on `from`
    double fixed_from_us = 0;  // per-kernel fixed overhead on `from` (cost model calibration)
    double fixed_to_us = 0;
    std::string basis;  // "probe gemm 4096x7168x2048 fp8: 0.412 ms -> 0.536 ms (compute)" ...
};

class Retimer {
  public:
    // `participants` is the EP/collective group size to use when no deployment says (the
    // trace's world size, 0 unknown). With a model and a deployment, the work comes from the op
    // graph of the recorded micro-batch (built once here); a step the model cannot run (e.g. a
    // context beyond its positions) throws InputError naming the deployment's file and field.
    Retimer(const devices::CostModel& from,
            const devices::CostModel& to,
            const RuleTable& rules,
            const std::optional<models::ModelConfig>& model,
            const std::optional<ReplayDeployment>& deployment,
            int64_t participants);

    [[nodiscard]] const std::vector<CategoryScaling>& scaling() const { return scaling_; }
    // New duration of one kernel: fixed part scaled by the overhead ratio, the rest by the
    // category's ratio (or by the kernel's own work when the trace records it).
    [[nodiscard]] Ns retime(const Kernel& k, size_t category) const;
    [[nodiscard]] std::vector<Ns> retime_all(const Trace& trace, const Classification& cls) const;

  private:
    const devices::CostModel& from_;
    const devices::CostModel& to_;
    const RuleTable& rules_;
    std::vector<CategoryScaling> scaling_;
};

// Loads a cost model for a device name/path or a system name/path.
devices::CostModel load_cost_model(std::string_view device_or_system);

}  // namespace dssim::traces
