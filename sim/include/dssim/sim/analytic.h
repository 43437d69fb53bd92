// The fast analytical path: the simulator's own plan (same op graph, cost-model timings,
// collectives and priorities) list-scheduled on the representative device's two streams
// without the SystemC kernel. Sweeps use it for thousands of points (docs/studies.md
// "Analytical path" states its agreement with simulate()). Thread-safe: plan shapes are shared
// between calls through a process-wide cache, and a call's result does not depend on the
// cache's contents.
#pragma once

#include <cstdint>

#include "dssim/models/model_config.h"
#include "dssim/sim/simulate.h"

namespace dssim::sim {

struct AnalyticOptions {
    // Share plan shapes (op graphs, dependencies, cost-model requests) with earlier calls of
    // the same model, deployment shape and workload shape. Off: everything is rebuilt (the
    // reference the cached path is tested against).
    bool use_cache = true;
};

// One step, estimated: compute ops take overhead + latency + max(compute, memory); each
// collective books the representative device's own ports in issue order and its buffer
// traffic runs beside the transfers. Left out: HBM sharing between the two streams and
// calendar gap filling. Micro-batches as simulate(): 0 evaluates 1 and 2 and keeps the
// shorter step (ties: 1). The result holds the metrics sweeps use (step, throughput, TPOT/TTFT,
// MFU, HBM utilisation, exposed communication, stream busy times, memory, fit); no timeline.
// Throws InputError as simulate() does.
SimResult analytic_simulate(const models::ModelConfig& model,
                            const Hardware& hardware,
                            const Deployment& deployment,
                            const Workload& workload,
                            const AnalyticOptions& options = {});

// Counters of the process-wide plan cache (hits: plan shapes or op graphs reused).
struct AnalyticCacheStats {
    int64_t shape_hits = 0;
    int64_t shape_misses = 0;
    int64_t graph_hits = 0;
    int64_t graph_misses = 0;
    int64_t topology_hits = 0;  // machines with an identical topology share its routes
    int64_t topology_misses = 0;
};
AnalyticCacheStats analytic_cache_stats();
// Drops every cached shape and graph (and resets the counters).
void clear_analytic_cache();

}  // namespace dssim::sim
