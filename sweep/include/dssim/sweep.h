// Public header of dssim_sweep: what-if studies (docs/studies.md). A study file names a model,
// a deployment, a workload and axes (device figures, deployment, workload, device name); the
// sweep evaluates every point with the fast analytical path (or the SystemC simulator) and
// writes results.csv, results.h5, SVG plots and summary.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/sim/simulate.h"

namespace dssim::sweep {

// One axis value: a number, a string or a flag, as written in the study file.
struct AxisValue {
    Json value;
    std::string label;  // for tables and plots: "x0.5", "h800", "true"
};

// An axis: `param` names what it changes (docs/studies.md "Parameters"); `factor` applies
// numbers as multipliers of the base value (device quantities only).
struct Axis {
    std::string param;
    bool factor = false;
    std::vector<AxisValue> values;
};

// Everything one point needs, before evaluation.
struct PointSpec {
    std::string device;                                          // device config name
    std::vector<std::pair<std::string, double>> device_factors;  // quantity path -> factor
    std::vector<std::pair<std::string, double>> device_values;   // quantity path -> value
    std::optional<bool> fp8_native;
    devices::Fp8Mode fp8 = devices::Fp8Mode::Auto;
    sim::Deployment deployment;  // ep 0: = devices
    sim::Workload workload;
    std::optional<double> tpot_slo_ms;  // from the workload or an axis
    std::optional<double> ttft_slo_ms;
    std::vector<int64_t> batch_candidates;  // non-empty: search the batch that best meets the SLO
    std::vector<std::string> labels;        // one per axis (in axis order)
};

struct Study {
    std::string file;
    std::string name;
    std::string question;
    std::string model;
    std::optional<double> tpot_slo_ms;
    std::optional<double> ttft_slo_ms;
    int64_t output_len = 0;
    std::string baseline_device;            // relative column ("" none)
    std::string answer = "max_throughput";  // or "min_devices"
    std::vector<Axis> axes;
    std::vector<PointSpec> points;  // expanded, in evaluation order
    std::string canonical;          // canonical JSON of the file (journal identity)
};

// Loads a study from a file path or a built-in name (configs/studies/<name>.json). Errors name
// the file and the field (InputError).
Study load_study(const std::string& name_or_path);
Study parse_study(const Json& json, const std::string& file);

enum class Engine { Analytical, SystemC };

// The numbers one point produces (what results.csv holds per row).
struct PointResult {
    int64_t index = 0;
    std::vector<std::string> labels;
    std::string device;
    std::string phase;
    int64_t devices = 0, tp = 0, ep = 0, dp = 0, batch = 0, context = 0;
    int64_t micro_batches = 0;  // the count that ran (auto: the faster of 1 and 2)
    double step_time_ms = 0;
    double tokens_per_s_per_device = 0;
    double tpot_ms = 0;     // 0 in prefill
    double ttft_ms = 0;     // 0 in decode
    double compute_ms = 0;  // critical device: matrix/vector unit time
    double memory_ms = 0;   // HBM-bound part of the compute stream
    double exposed_comm_ms = 0;
    double memory_gb = 0;
    double capacity_gb = 0;
    bool fits = false;
    bool meets_slo = false;
    std::string error;  // a point the model cannot run (e.g. EP does not divide); others go on
};

// Evaluates one point.
PointResult evaluate(const Study& study,
                     const models::ModelConfig& model,
                     size_t index,
                     Engine engine);
// The analytical step time of one configuration (no SystemC): list scheduling of the sim
// plan's two streams with uncontended op times (docs/studies.md "Analytical path").
sim::SimResult analytic_simulate(const models::ModelConfig& model,
                                 const sim::Hardware& hw,
                                 const sim::Deployment& dep,
                                 const sim::Workload& wl);

// How the processes of one sweep talk to each other (MPI ranks under mpirun: the CLI supplies
// the MPI implementation, so this library does not link MPI). Both calls are collective: every
// rank makes the same calls in the same order.
class Transport {
  public:
    virtual ~Transport() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // Every rank passes its text; rank 0 receives all of them in rank order, the others {}.
    virtual std::vector<std::string> gather(const std::string& mine) = 0;
    // Rank 0's text, returned on every rank (the others' argument is ignored).
    virtual std::string broadcast(const std::string& text) = 0;
};

// Thrown on ranks other than 0 when some rank failed: rank 0 throws the error itself (one
// line), the others should exit with code 2 without printing.
class PeerFailed : public std::runtime_error {
  public:
    PeerFailed() : std::runtime_error("another rank failed; rank 0 reports the error") {}
};

// Collective step with error agreement: runs `step` on every rank and, if every rank
// succeeded, returns the step results on rank 0 in rank order ({} on the others). If any rank
// threw, no rank returns: rank 0 rethrows its own exception or, if it did not fail, an
// InputError "rank K: <message>" for the lowest failing rank K; the others throw PeerFailed.
// Without a transport (a single process) it runs `step` and returns {its result}.
std::vector<std::string> gather_agreed(Transport* t, const std::function<std::string()>& step);

struct SweepOptions {
    std::string out_dir;
    bool resume = false;
    int threads = 1;
    Engine engine = Engine::Analytical;
    // Several processes (MPI): point i is computed by rank i % size; rank 0 owns every file
    // (journal and outputs). nullptr: a single process.
    Transport* transport = nullptr;
    // Stop after this many newly computed points (tests: an interrupted run). -1: no limit.
    int64_t stop_after = -1;
};

// Runs the sweep and writes the outputs; returns the results in point order (on rank 0; other
// ranks return {}).
std::vector<PointResult> run_sweep(const Study& study, const SweepOptions& opt);

// Journal lines (one per point) and their parsing: exact round trip of every number.
std::string result_to_line(const PointResult& r);
PointResult result_from_line(const std::string& line, const std::string& origin);

// Output writers (final files, written atomically).
std::string results_csv(const Study& study, const std::vector<PointResult>& rs);
void write_results_h5(const Study& study,
                      const std::vector<PointResult>& rs,
                      const std::string& path);
std::string summary_md(const Study& study, const std::vector<PointResult>& rs);
// What limits a point's step: "compute", "memory" or "communication", whichever of
// compute_ms, memory_ms and exposed_comm_ms is largest; "" for a point with an error.
std::string bound_of(const PointResult& r);
// name -> SVG text (sweep/src/plots.cpp): throughput_vs_<axis>.svg per axis but the phase,
// pareto_tpot.svg (decode) and pareto_ttft.svg (prefill) for the phases present, bottleneck.svg.
std::vector<std::pair<std::string, std::string>> plots(const Study& study,
                                                       const std::vector<PointResult>& rs);

}  // namespace dssim::sweep
