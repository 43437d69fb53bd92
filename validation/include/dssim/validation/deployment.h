// A deployment (configs/deployments/<name>.json): the parallel layout, precision and batch of a
// serving or training setup someone published a figure for, each block naming its source.
// The validation cases and `validate --compare-devices` simulate these (docs/config-formats.md,
// "Deployments").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/models/op_graph.h"
#include "dssim/sim/simulate.h"

namespace dssim::validation {

// The training block: how a step is assembled from simulated forward chunks.
struct TrainingSpec {
    int64_t pipeline_parallel = 1;
    std::string schedule;  // "dualpipe" (the only schedule modelled)
    int64_t zero_stage = 1;
    int64_t layers_per_chunk = 1;  // MoE layers one pipeline chunk holds
    int64_t sequence_length = 4096;
    int64_t global_batch_sequences = 1;
};

struct DeploymentConfig {
    std::string name;
    std::string file;
    std::string description;
    std::map<std::string, std::string> sources;
    std::string model;   // configs/models name
    std::string device;  // configs/devices name
    std::string system;  // configs/systems name
    models::Phase phase = models::Phase::Prefill;
    sim::Deployment parallel;
    sim::Workload workload;  // phase Prefill for training (a forward chunk is a prefill pass)
    std::optional<double> cache_hit_rate;  // share of counted input tokens served from cache
    int64_t comm_compute_units = 0;        // compute units held by communication kernels
    std::optional<TrainingSpec> training;
};

// Parses and checks a deployment object; errors name `file` and the field.
DeploymentConfig parse_deployment(const Json& json, const std::string& file);
// Built-in name (configs/deployments/<name>.json) or a path.
DeploymentConfig load_deployment(std::string_view name_or_path);
std::vector<std::string> list_deployments();

// The machine a deployment runs on: its own device and system, or (non-empty
// `device_override`) another device in its own scale-up domain replicated over NICs. The
// compute units `comm_compute_units` holds are taken out of every known matrix peak (the same
// share on a substitute device); each change is described in `notes`.
sim::Hardware deployment_hardware(const DeploymentConfig& d,
                                  const std::string& device_override,
                                  std::vector<std::string>& notes);

}  // namespace dssim::validation
