// The training-step model for DualPipe (docs/validation.md, "Training step"). The simulator
// times one chunk of the op graph's training step: the forward ops, the input-gradient (B) and
// weight-gradient (W) ops of layers_per_chunk MoE layers on one sequence per micro-batch, on
// the EP group. DualPipe overlaps the forward chunk of one micro-batch with the backward chunk
// of another, so a chunk pair takes max(compute F + B + W, communication F + B). A step is the
// chunk pairs of all micro-batches plus the DualPipe bubble (PP/2 - 1)(F&B + B - 3W).
#pragma once

#include <string>
#include <vector>

#include "dssim/sim/simulate.h"
#include "dssim/validation/deployment.h"

namespace dssim::validation {

struct TrainingEstimate {
    double forward_compute_ms = 0;   // one forward chunk, compute stream busy
    double forward_comm_ms = 0;      // one forward chunk, communication stream busy
    double chunk_span_ms = 0;        // the simulated chunk (F, B, W, gradient all-reduce)
    double backward_compute_ms = 0;  // B + W, compute stream busy
    double backward_comm_ms = 0;     // gradient all-to-alls (B)
    double weight_grad_ms = 0;       // W share of the backward compute
    double chunk_pair_ms = 0;        // F&B of one pair under DualPipe overlap
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
