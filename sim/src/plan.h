// Private: the step plan both engines execute (the SystemC engine in engine.cpp, the analytical
// list scheduler in analytic.cpp). plan.cpp turns op graphs (one per micro-batch) into
// per-device work in two layers:
//  - PlanShape: everything that depends only on the model, deployment, workload and mode: the
//    micro-batch graphs, ops with dependencies and priorities, collectives as transfer
//    patterns, memory use, and each compute op's cost-model request (deduplicated: the 58 MoE
//    layers of V3 ask the cost model the same questions). Immutable, so a PlanCache can share
//    it between points of a sweep that differ only in device figures.
//  - Plan: a shape bound to one machine: cost-model timings of the shape's requests, the
//    topology, HBM figures and the assumptions made.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
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

// The device-independent question a compute op asks the cost model: which call, with which
// per-device shape. Evaluated once per distinct request per machine (Plan::timings).
struct CostRequest {
    enum class Call : uint8_t { Gemm, GroupedGemm, Attention, Memory };
    Call call = Call::Memory;
    Unit unit = Unit::Vector;
    devices::GemmShape gemm;
    devices::GroupedGemmShape grouped;
    devices::AttentionWork attention;
    devices::MemoryWork memory;
    // The call's work repeated this many times (a backward op that does a multiple of its
    // forward op's work on the same shapes: models::backward_work_multiple).
    double repeat = 1.0;
};

enum class CommPattern : uint8_t { AllToAll, Ring };

// Which kernel runs a collective: TP rings, or DeepEP's normal (prefill, training) or
// low-latency (decode) EP kernels (docs/simulator.md, "EP all-to-all").
enum class CommKernel : uint8_t { Ring, EpNormal, EpLowLatency };

// One collective op (per micro-batch). Transfers are generated per device by Plan::sends().
// The per-call overhead and the link efficiencies are the machine's (Plan::comm_overhead_s).
struct CommInfo {
    CommPattern pattern = CommPattern::AllToAll;
    CommKernel kernel = CommKernel::Ring;
    int64_t group = 1;  // members per group (contiguous device ids)
    // AllToAll: bytes from EP rank s to rank r = pair_bytes * rank_pairs[r or s] (see sends).
    bool to_expert = true;           // dispatch: destination's load decides; combine: source's
    std::vector<double> rank_pairs;  // [group] pairs per rank pair (s != r)
    double pair_bytes = 0;
    // Ring: `steps` sequential transfers of `step_bytes` to the next member.
    int64_t steps = 0;
    double step_bytes = 0;
    double ring_hbm_bytes = 0;  // per device: buffer read and written by the reduction
};

struct PlanOp {
    const models::Op* op = nullptr;
    int micro_batch = 0;
    Stream stream = Stream::Compute;
    int64_t priority = 0;  // lower runs first among ready ops of a stream
    int32_t deps = 0;      // predecessors in the plan
    std::vector<int32_t> succ;
    // Compute: indices into PlanShape::requests / Plan::timings (1 entry, or one per EP rank
    // for expert ops in full mode).
    std::vector<int32_t> request;
    bool per_rank = false;
    int32_t comm = -1;  // index into PlanShape::comm
};

struct Transfer {
    int64_t dst = 0;
    double bytes = 0;
    bool chained = false;  // ring: starts when the previous transfer of this op completed
};

struct MicroBatch {
    std::shared_ptr<const models::OpGraph> graph;
    std::vector<models::OpVertex> order;
    int64_t sequences_per_device = 0;
    int64_t tokens_per_device = 0;
};

// A plan op packed for list scheduling (the analytical path walks thousands per point, so the
// hot fields sit in one array instead of behind per-op vectors).
struct SchedOp {
    int64_t priority = 0;
    int32_t deps = 0;
    int32_t succ_begin = 0;  // range in PlanShape::succ
    int32_t succ_end = 0;
    // Compute: the request index (-1 for per-rank timings); comm: the op's comm class.
    int32_t item = -1;
    Stream stream = Stream::Compute;
};

// The machine-independent part of a plan (see the file comment).
struct PlanShape {
    Mode mode = Mode::Symmetric;
    int64_t devices = 1;
    int64_t tp = 1, ep = 1, dp = 1;
    std::vector<MicroBatch> mbs;
    std::vector<PlanOp> ops;
    std::vector<CommInfo> comm;
    std::vector<CostRequest> requests;  // distinct, in order of first use by ops
    // Per comm op: index of the first comm op with identical CommInfo (its class).
    std::vector<int32_t> comm_class;
    std::vector<SchedOp> sched;  // parallel to ops
    std::vector<int32_t> succ;   // successors of all ops, by SchedOp ranges
    MemoryUse memory;            // capacity left 0 (the machine's)
    // Of memory.weights: the FP8 block-scaled weights' elements and their FP32 scale bytes
    // (per device). A device without FP8 holds them in its fallback format (build_plan).
    double fp8_weight_elements = 0;
    double fp8_weight_scale_bytes = 0;
    std::vector<std::string> notes;  // assumptions of the shape itself
};

struct Plan {
    std::shared_ptr<const PlanShape> shape;
    Mode mode = Mode::Symmetric;
    int64_t devices = 1;
    int64_t tp = 1, ep = 1, dp = 1;
    std::vector<OpTiming> timings;             // parallel to shape->requests
    std::shared_ptr<const Topology> topology;  // shared (all routes computed) with a cache
    std::unique_ptr<devices::CostModel> cost;
    double collective_overhead_s = 0;  // per ring collective call (calibration)
    // EP normal kernels send a token once per destination rank / domain: expected distinct
    // ranks and domains per token over its copies (models::expected_fanout on this machine's
    // domains), and the EP members per domain they assume.
    double ep_rank_dedup = 1.0;
    double ep_domain_dedup = 1.0;
    int64_t ep_members = 1;
    double hbm_bandwidth = 0;  // bytes/s peak
    double hbm_latency_s = 0;  // per op (pipeline fill), 0 if unknown
    double hbm_tile_bytes = 8.0 * 1024 * 1024;
    int max_tiles = 64;
    MemoryUse memory;
    std::vector<std::string> assumptions;

    [[nodiscard]] const std::vector<PlanOp>& ops() const { return shape->ops; }
    [[nodiscard]] const std::vector<CommInfo>& comm() const { return shape->comm; }
    [[nodiscard]] const std::vector<MicroBatch>& mbs() const { return shape->mbs; }
    // EP rank of a device (position in its expert group).
    [[nodiscard]] int64_t ep_rank(int64_t device) const { return device % ep; }
    [[nodiscard]] const OpTiming& timing(const PlanOp& op, int64_t device) const {
        const int32_t i =
            op.per_rank ? op.request[static_cast<size_t>(ep_rank(device))] : op.request[0];
        return timings[static_cast<size_t>(i)];
    }
    // Transfers device `d` sends for comm op `c`, in issue order.
    void sends(int64_t d, const CommInfo& c, std::vector<Transfer>& out) const;
    // Fixed cost of one call of `c` (s): the kernel's overhead (EP kernels: dispatch or combine).
    [[nodiscard]] double comm_overhead_s(const CommInfo& c) const;
    // Shortest time the kernel's compute units need to move `sent_bytes` (0: not limited).
    [[nodiscard]] double comm_unit_floor_s(const CommInfo& c, double sent_bytes) const;
    // Duration of `bytes` over `route` for `c`: the route's bandwidth carries the ring
    // collectives' efficiency; EP kernels run at their own.
    [[nodiscard]] int64_t transfer_ps(const CommInfo& c, const Route& route, double bytes) const;
    // HBM bytes a device moves for comm op `c` (reads what it sends, writes what it receives).
    [[nodiscard]] double comm_hbm_bytes(int64_t d, const CommInfo& c) const;
};

// What device `d` receives for comm op `c`, in arrival order (the mirror of Plan::sends());
// Transfer::dst holds the source device.
void receives(const Plan& p, int64_t d, const CommInfo& c, std::vector<Transfer>& out);

// Shares plan shapes (and micro-batch op graphs) between calls with the same model,
// deployment shape and workload shape. Thread-safe; results are identical with and without
// a cache (the shape is a pure function of its key). Least recently used entries are dropped
// beyond the limits (a V3 decode shape holds a few MB).
class PlanCache {
  public:
    explicit PlanCache(size_t max_shapes = 24, size_t max_graphs = 24, size_t max_topologies = 64);
    PlanCache(const PlanCache&) = delete;
    PlanCache& operator=(const PlanCache&) = delete;
    ~PlanCache();

    struct Stats {
        int64_t shape_hits = 0, shape_misses = 0, graph_hits = 0, graph_misses = 0;
        int64_t topology_hits = 0, topology_misses = 0;
    };
    [[nodiscard]] Stats stats() const;
    void clear();

    struct Impl;
    [[nodiscard]] Impl& impl() { return *impl_; }

  private:
    std::unique_ptr<Impl> impl_;
};

// Builds the plan for an explicit micro-batch count (1 or 2; throws InputError for an invalid
// deployment or workload). With a cache (and no per-layer expert loads) the shape is shared.
Plan build_plan(const models::ModelConfig& model,
                const Hardware& hw,
                const Deployment& dep,
                const Workload& wl,
                const SimOptions& opt,
                PlanCache* cache = nullptr);

// Micro-batch counts a deployment asks to evaluate: the given count, or for auto (0) 1 and 2
// (just 1 when two micro-batches would degenerate to one: a decode step of one sequence per
// device, or a one-token prefill). Throws InputError for counts other than 0, 1, 2.
std::vector<int> micro_batch_candidates(const Deployment& dep, const Workload& wl);

// The part of a step's report both engines compute alike: the inputs echoed, step time,
// throughput, TTFT/TPOT, MFU, HBM utilisation, memory, fit and assumptions. `ideal_s` and
// `hbm_bytes` are the reported device's (MFU numerator, HBM traffic).
SimResult step_result(const models::ModelConfig& model,
                      const Hardware& hw,
                      const Deployment& dep,
                      const Workload& wl,
                      const Plan& plan,
                      int64_t step_ps,
                      double ideal_s,
                      double hbm_bytes);

// A run of the fastest micro-batch count, and the step time of the other count when auto
// micro-batching evaluated two.
template <class Run>
struct Fastest {
    Run best;
    std::optional<int64_t> other_ps;
};
// Runs `evaluate(d)` for every micro-batch candidate of `dep` (d: `dep` with that count) and
// keeps the shortest step (`step_ps(run)`); only a strictly shorter step replaces the earlier
// count, so ties keep one micro-batch. Shared by both engines so they choose alike.
template <class Evaluate, class StepPs>
auto keep_fastest(const Deployment& dep, const Workload& wl, Evaluate evaluate, StepPs step_ps)
    -> Fastest<std::invoke_result_t<Evaluate&, const Deployment&>> {
    using Run = std::invoke_result_t<Evaluate&, const Deployment&>;
    std::optional<Run> best;
    std::optional<int64_t> other_ps;
    for (int count : micro_batch_candidates(dep, wl)) {
        Deployment d = dep;
        d.micro_batches = count;
        Run run = evaluate(d);
        const int64_t t = step_ps(run);
        if (!best || t < step_ps(*best)) {
            if (best) other_ps = step_ps(*best);
            best.emplace(std::move(run));
        } else {
            other_ps = t;
        }
    }
    return {std::move(*best), other_ps};
}

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

// The device that holds the busiest EP rank of the first expert layer (rank 0 when balanced):
// the critical path, which symmetric mode simulates and the analytical path schedules.
int64_t representative_device(const Plan& plan);

}  // namespace dssim::sim::detail
