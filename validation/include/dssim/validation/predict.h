// Predictions for validation cases: kernels through the devices CostModel, serving through the
// simulator, training through the DualPipe step model (training.h) on top of the simulator.
#pragma once

#include <string>
#include <vector>

#include "dssim/validation/case.h"

namespace dssim::validation {

struct Prediction {
    double value = 0;
    std::vector<std::string> notes;  // bound, breakdown, assumptions (deterministic order)
};

struct PredictOptions {
    // Non-empty: run a deployment case on this device instead of the deployment's own (its
    // own scale-up domain replicated over NICs; --compare-devices).
    std::string device_override;
};

// Throws InputError for setups the libraries reject and for unknown device figures.
Prediction predict(const Case& c, const PredictOptions& options = {});

}  // namespace dssim::validation
