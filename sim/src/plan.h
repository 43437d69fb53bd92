// Private: the step plan the SystemC engine executes. plan.cpp turns op graphs (one per
// micro-batch) into per-device work: every compute op timed by the device cost model, every
// collective decomposed into point-to-point transfers over the topology, dependencies between
// ops, and the memory a device needs. engine.cpp runs the plan; report.cpp turns the run into
// metrics and traces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dssim/devices/cost_model.h"
#include "dssim/models/op_graph.h"
#include "dssim/sim/simulate.h"
#include "dssim/sim/topology.h"

namespace dssim::sim::detail {

enum class Stream : uint8_t { Compute = 0, Comm = 1 };
enum class Unit : uint8_t { Matrix, Vector };

// One compute op on one device, from the cost model.
struct OpTiming {
    double compute_s = 0;   // matrix/vector unit time at the calibrated efficiency
    double memory_s = 0;    // HBM time alone at the calibrated efficiency (full bandwidth)
    double hbm_bytes = 0;   // bytes moved to/from HBM
    double overhead_s = 0;  // fixed per-kernel cost
    double ideal_s = 0;     // flops / peak of the executed precision (MFU numerator)
    Unit unit = Unit::Vector;
};

enum class CommPattern : uint8_t { AllToAll, Ring };

// One collective op (per micro-batch). Transfers are generated per device by Plan::sends().
struct CommInfo {
    CommPattern pattern = CommPattern::AllToAll;
    int64_t group = 1;  // members per group (contiguous device ids)
    // AllToAll: bytes from EP rank s to rank r = pair_bytes * rank_pairs[r or s] (see sends).
    bool to_expert = true;           // dispatch: destination's load decides; combine: source's
    std::vector<double> rank_pairs;  // [group] pairs per rank pair (s != r)
    double pair_bytes = 0;
    // Ring: `steps` sequential transfers of `step_bytes` to the next member.
    int64_t steps = 0;
    double step_bytes = 0;
    double ring_hbm_bytes = 0;  // per device: buffer read and written by the reduction
    double overhead_s = 0;      // per call (calibration)
};

struct PlanOp {
    const models::Op* op = nullptr;
    int micro_batch = 0;
    Stream stream = Stream::Compute;
    int64_t priority = 0;  // lower runs first among ready ops of a stream
    int32_t deps = 0;      // predecessors in the plan
    std::vector<int32_t> succ;
    // Compute: timing variants (1 entry, or one per EP rank for expert ops in full mode).
    std::vector<OpTiming> timing;
    bool per_rank = false;
    int32_t comm = -1;  // index into Plan::comm
};

struct Transfer {
    int64_t dst = 0;
    double bytes = 0;
    bool chained = false;  // ring: starts when the previous transfer of this op completed
};

struct MicroBatch {
    std::shared_ptr<models::OpGraph> graph;
    std::vector<models::OpVertex> order;
    int64_t sequences_per_device = 0;
    int64_t tokens_per_device = 0;
};

struct Plan {
    Mode mode = Mode::Symmetric;
    int64_t devices = 1;
    int64_t tp = 1, ep = 1, dp = 1;
    std::vector<MicroBatch> mbs;
    std::vector<PlanOp> ops;
    std::vector<CommInfo> comm;
    std::unique_ptr<Topology> topology;
    std::unique_ptr<devices::CostModel> cost;
    double hbm_bandwidth = 0;  // bytes/s peak
    double hbm_latency_s = 0;  // per op (pipeline fill), 0 if unknown
    double hbm_tile_bytes = 8.0 * 1024 * 1024;
    int max_tiles = 64;
    MemoryUse memory;
    std::vector<std::string> assumptions;

    // EP rank of a device (position in its expert group).
    [[nodiscard]] int64_t ep_rank(int64_t device) const { return device % ep; }
    [[nodiscard]] const OpTiming& timing(const PlanOp& op, int64_t device) const {
        return op.per_rank ? op.timing[static_cast<size_t>(ep_rank(device))] : op.timing[0];
    }
    // Transfers device `d` sends for comm op `c`, in issue order.
    void sends(int64_t d, const CommInfo& c, std::vector<Transfer>& out) const;
    // HBM bytes a device moves for comm op `c` (reads what it sends, writes what it receives).
    [[nodiscard]] double comm_hbm_bytes(int64_t d, const CommInfo& c) const;
};

// What device `d` receives for comm op `c`, in arrival order (the mirror of Plan::sends());
// Transfer::dst holds the source device.
void receives(const Plan& p, int64_t d, const CommInfo& c, std::vector<Transfer>& out);

// Builds the plan (throws InputError for an invalid deployment or workload).
Plan build_plan(const models::ModelConfig& model,
                const Hardware& hw,
                const Deployment& dep,
                const Workload& wl,
                const SimOptions& opt);

// A timed op on one device (internal form of TimelineEntry).
struct Slice {
    int32_t op = 0;  // plan op index
    int64_t start_ps = 0;
    int64_t end_ps = 0;
};
struct DeviceStats {
    int64_t finish_ps = 0;
    double hbm_bytes = 0;
    int64_t hbm_busy_ps = 0;
    double matrix_busy_s = 0;
    double ideal_s = 0;
    int64_t port_busy_ps[2] = {0, 0};  // scale-up, scale-out egress
    std::vector<Slice> slices[2];      // per stream, in execution order
};
struct TransferRecord {
    int64_t src = 0;
    int64_t dst = 0;
    int32_t op = 0;  // plan op (the same comm op on both sides)
    int64_t start_ps = 0;
    int64_t end_ps = 0;
    double bytes = 0;
};
struct RunOutput {
    std::vector<int64_t> simulated;  // device ids
    std::vector<DeviceStats> stats;  // parallel to `simulated`
    std::vector<TransferRecord> transfers;
};

// Runs the plan on the SystemC kernel.
RunOutput run_plan(const Plan& plan, bool record_transfers);

}  // namespace dssim::sim::detail
