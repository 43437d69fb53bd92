// The training-step model for DualPipe (docs/validation.md, "Training step"). The simulator
// times prefill and decode steps only, so training is assembled here on top of its committed
// API: one forward chunk (layers_per_chunk MoE layers, one sequence per micro-batch) is
// simulated as a prefill pass on the EP group; the backward chunk repeats the forward compute
// backward_flop_ratio times and the forward communication once (dispatch and combine swap);
// DualPipe overlaps a forward chunk of one micro-batch with the backward chunk of another, so a
// chunk pair takes max(compute F + compute B, comm F + comm B). A step is the chunk pairs of all
// micro-batches plus the DualPipe bubble (PP/2 - 1)(F&B + B - 3W).
#pragma once

#include <string>
#include <vector>

#include "dssim/sim/simulate.h"
#include "dssim/validation/deployment.h"

namespace dssim::validation {

struct TrainingEstimate {
    double forward_compute_ms = 0;  // one forward chunk, compute stream busy
    double forward_comm_ms = 0;     // one forward chunk, communication stream busy
    double forward_span_ms = 0;     // simulated forward chunk on its own
    double backward_compute_ms = 0;
    double backward_comm_ms = 0;
    double weight_grad_ms = 0;  // W share of the backward compute
    double chunk_pair_ms = 0;   // F&B of one pair under DualPipe overlap
    double micro_batches_per_rank = 0;
    double bubble_ms = 0;
    double step_s = 0;
    double tokens_per_step = 0;
    double gpu_hours_per_trillion_tokens = 0;
    std::vector<std::string> notes;
};

// `hw` is the machine (the deployment's own or a --compare-devices substitute).
TrainingEstimate estimate_training(const DeploymentConfig& d, const sim::Hardware& hw);

}  // namespace dssim::validation
