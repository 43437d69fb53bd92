// Deployments and workloads the simulator tests (test_sim, test_sim_errors, test_analytic)
// build their cases from, so every file states a case the same way.
#pragma once

#include <cstdint>

#include "dssim/models/model_config.h"
#include "dssim/sim/simulate.h"

namespace dssim::sim::test {

// `devices` devices, routed experts over `ep` ranks, attention over `tp`; micro-batches 0 is
// auto.
inline Deployment ep_deployment(int64_t devices,
                                int64_t ep,
                                int64_t tp = 1,
                                int micro_batches = 0) {
    Deployment d;
    d.devices = devices;
    d.ep = ep;
    d.tp = tp;
    d.micro_batches = micro_batches;
    return d;
}

// One decode step: `batch` sequences per device, each attending to `context` cached tokens.
inline Workload decode(int64_t batch, int64_t context) {
    Workload w;
    w.phase = models::Phase::Decode;
    w.batch = batch;
    w.context = context;
    return w;
}

// One prefill step: `batch` prompts of `input_len` tokens per device (naive MLA by default, as
// `dssim simulate --phase prefill`).
inline Workload prefill(int64_t batch,
                        int64_t input_len,
                        models::AttentionMode attention = models::AttentionMode::Naive) {
    Workload w;
    w.phase = models::Phase::Prefill;
    w.batch = batch;
    w.input_len = input_len;
    w.attention = attention;
    return w;
}

}  // namespace dssim::sim::test
