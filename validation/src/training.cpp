// DualPipe training-step model on top of the simulator's training chunk (training.h states the
// rules; docs/validation.md, "Training step", the reasoning and what is left out).
#include "dssim/validation/training.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "dssim/base/error.h"
#include "dssim/models/model_config.h"
#include "dssim/models/parallel.h"

namespace dssim::validation {

namespace {

std::string fmt(const char* f, double v) {
    char buf[96];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

}  // namespace

TrainingEstimate estimate_training(const DeploymentConfig& d, const sim::Hardware& hw) {
    if (!d.training) throw_input_error(d.file, "training", "missing training block");
    const TrainingSpec& ts = *d.training;
    TrainingEstimate t;

    // One pipeline chunk: layers_per_chunk MoE layers (models/parallel).
    const models::ModelConfig chunk =
        models::pipeline_chunk(models::resolve_model_config(d.model), ts.layers_per_chunk, d.file,
                               "training.layers_per_chunk");

    // The chunk runs on one EP group; each device holds one micro-batch (sequence). The step
    // is the op graph's training step: forward, input gradient, weight gradient (and the
    // gradient synchronisation, which runs once per optimizer step, not per chunk: left out).
    sim::Deployment dep;
    dep.devices = d.parallel.ep;
    dep.tp = d.parallel.tp;
    dep.ep = d.parallel.ep;
    dep.dp = d.parallel.ep / d.parallel.tp;
    dep.redundant_experts = d.parallel.redundant_experts;
    dep.micro_batches = 1;
    sim::Workload wl = d.workload;
    wl.phase = models::Phase::Train;
    wl.batch = 1;
    wl.input_len = ts.sequence_length;
    wl.context = 0;
    wl.mtp = false;
    wl.stage = models::PipelineStage{false, false};  // a middle stage: no embedding, head, loss
    const sim::SimResult r = sim::simulate(chunk, hw, dep, wl);
    auto pass = [&](models::Pass p) {
        const std::string name(models::pass_name(p));
        for (const auto& x : r.by_pass)
            if (x.pass == name) return x;
        throw std::logic_error("training: the simulator reported no " + name + " pass");
    };
    const sim::PassTime fwd = pass(models::Pass::Forward);
    const sim::PassTime b = pass(models::Pass::BackwardInput);
    const sim::PassTime w = pass(models::Pass::BackwardWeight);

    t.forward_compute_ms = fwd.compute_ms;
    t.forward_comm_ms = fwd.comm_ms;
    t.chunk_span_ms = r.step_time_ms;
    t.backward_compute_ms = b.compute_ms + w.compute_ms;
    t.backward_comm_ms = b.comm_ms + w.comm_ms;
    t.weight_grad_ms = w.compute_ms;
    const double input_grad_ms = b.compute_ms;
    t.chunk_pair_ms = std::max(t.forward_compute_ms + t.backward_compute_ms,
                               t.forward_comm_ms + t.backward_comm_ms);

    const double pp = static_cast<double>(ts.pipeline_parallel);
    const double dp = static_cast<double>(d.parallel.dp);
    t.micro_batches_per_rank = static_cast<double>(ts.global_batch_sequences) / dp;
    // DualPipe bubble (V3 report, Table 2): (PP/2 - 1)(F&B + B - 3W).
    t.bubble_ms =
        (pp / 2.0 - 1.0) * std::max(0.0, t.chunk_pair_ms + input_grad_ms - 3.0 * t.weight_grad_ms);
    const double step_ms = t.micro_batches_per_rank * t.chunk_pair_ms + t.bubble_ms;
    t.step_s = step_ms / 1e3;
    t.tokens_per_step =
        static_cast<double>(ts.global_batch_sequences) * static_cast<double>(ts.sequence_length);
    const double gpu_hours = static_cast<double>(d.parallel.devices) * t.step_s / 3600.0;
    t.gpu_hours_per_trillion_tokens = gpu_hours / t.tokens_per_step * 1e12;

    t.notes.push_back(fmt("forward chunk: compute %.2f ms", t.forward_compute_ms) +
                      fmt(", comm %.2f ms", t.forward_comm_ms));
    t.notes.push_back(fmt("backward chunk: compute %.2f ms", t.backward_compute_ms) +
                      fmt(" (B %.2f", input_grad_ms) + fmt(" + W %.2f)", t.weight_grad_ms) +
                      fmt(", comm %.2f ms", t.backward_comm_ms));
    t.notes.push_back(
        fmt("chunk simulated alone (F, B, W and the chunk's gradient all-reduce): "
            "%.2f ms",
            t.chunk_span_ms));
    t.notes.push_back(fmt("chunk pair %.2f ms", t.chunk_pair_ms) +
                      fmt(" x %.1f micro-batches per rank", t.micro_batches_per_rank) +
                      fmt(" + bubble %.1f ms", t.bubble_ms) + fmt(" = step %.3f s", t.step_s));
    t.notes.push_back(
        "not modelled: ZeRO-1 gradient reduce-scatter/all-gather (per optimizer step), PP "
        "transfers, "
        "embedding/head/MTP stages, the batch-size ramp, failures and restarts");
    if (!r.fits) t.notes.push_back(r.fit_message);
    for (const auto& a : r.assumptions)
        t.notes.push_back("assumption: " + a);
    return t;
}

}  // namespace dssim::validation
