// Predictions for validation cases: kernels through the devices CostModel, serving through the
// simulator, training through the DualPipe step model (training.h) on top of the simulator.
#pragma once

#include <string>
#include <vector>

#include "dssim/validation/case.h"

namespace dssim::validation {

// One row of a measured table case.
struct TableRow {
    std::string label;  // the row's parameters ("tokens 128, hidden 7168, top-8 of 256, 24 SMs")
    double measured = 0;
    double predicted = 0;
};

struct Prediction {
    double value = 0;
    std::vector<std::string> notes;  // bound, breakdown, assumptions (deterministic order)
    std::vector<TableRow> rows;      // table cases: every row (value unused)
};

struct PredictOptions {
    // Non-empty: run a deployment case on this device instead of the deployment's own (its
    // own scale-up domain replicated over NICs; --compare-devices).
    std::string device_override;
};

// Throws InputError for setups the libraries reject and for unknown device figures.
Prediction predict(const Case& c, const PredictOptions& options = {});

}  // namespace dssim::validation
