// Runs validation cases and reports them (`dssim validate`): predicted value, signed relative
// error, and a status derived from the tolerance and the case's expected status.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/validation/case.h"
#include "dssim/validation/predict.h"

namespace dssim::validation {

// Pass: within tolerance. Fail: expected to pass and out of tolerance (fails CI). KnownGap:
// out of tolerance as documented. Pending: not run (explanation says why).
enum class Status { Pass, Fail, KnownGap, Pending };
std::string_view status_name(Status s);

// A table case's rows judged together: the median of |predicted / measured - 1| decides.
struct TableSummary {
    size_t rows = 0;
    double measured_median = 0;   // of the measured times
    double predicted_median = 0;  // of the predicted times
    double median_abs_error = 0;
    double signed_median_error = 0;  // bias: > 0 the model is slow
    double max_abs_error = 0;
    std::string worst_row;  // label of the row with the largest |error|
};

struct Outcome {
    const Case* c = nullptr;
    std::optional<double> predicted;
    double error = 0;  // (predicted - published) / published; tables: median |error|
    std::optional<TableSummary> table;
    Status status = Status::Pending;
    bool gap_now_passes = false;  // marked known_gap but within tolerance: update the data
    std::vector<std::string> notes;
};

std::vector<Outcome> run_cases(const std::vector<Case>& cases);
// True when no case failed.
bool all_ok(const std::vector<Outcome>& outcomes);
std::string outcomes_table(const std::vector<Outcome>& outcomes);
OrderedJson outcomes_to_json(const std::vector<Outcome>& outcomes);

// --compare-devices: every deployment case predicted on every device in configs/devices.
struct DeviceRow {
    std::string device;
    std::optional<double> predicted;
    std::string note;  // error text when it could not be predicted
};
struct DeviceComparison {
    const Case* c = nullptr;
    std::vector<DeviceRow> rows;
};
std::vector<DeviceComparison> compare_devices(const std::vector<Case>& cases);
std::string comparison_table(const std::vector<DeviceComparison>& cmp);
OrderedJson comparison_to_json(const std::vector<DeviceComparison>& cmp);

}  // namespace dssim::validation
