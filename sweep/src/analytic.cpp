// The sweep's analytical engine: sim's analytical path (dssim/sim/analytic.h), which
// list-schedules the simulator's own plan without SystemC and shares plan shapes between
// points through sim's plan cache (docs/studies.md "Analytical path"). Kept as the sweep's
// entry point so studies and tools name one function.
#include "dssim/sim/analytic.h"
#include "dssim/sweep.h"

namespace dssim::sweep {

sim::SimResult analytic_simulate(const models::ModelConfig& model,
                                 const sim::Hardware& hw,
                                 const sim::Deployment& dep,
                                 const sim::Workload& wl) {
    return sim::analytic_simulate(model, hw, dep, wl);
}

}  // namespace dssim::sweep
