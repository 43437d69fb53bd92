// The analytical path (dssim/sim/analytic.h): the plan both engines share, list-scheduled on
// the representative device's two streams in integer picoseconds. Compute ops take their
// uncontended roofline (overhead + latency + max(compute, memory)); communication books the
// device's own ports in issue order (no gap filling) and its buffer traffic runs beside the
// transfers. Plan shapes come from a process-wide PlanCache, so a sweep over device figures
// builds each op graph once.
#include "dssim/sim/analytic.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <queue>
#include <stdexcept>

#include "plan.h"

namespace dssim::sim {

namespace {

using detail::CommInfo;
using detail::Plan;
using detail::PlanOp;
using detail::Transfer;

detail::PlanCache& cache() {
    static detail::PlanCache c;
    return c;
}

int64_t to_ps(double s) {
    return static_cast<int64_t>(std::llround(s * 1e12));
}

struct Interval {
    int64_t start = 0;
    int64_t end = 0;
};

// Comm time not covered by compute (both lists sorted, non-overlapping).
int64_t exposed(const std::vector<Interval>& comm, const std::vector<Interval>& comp) {
    int64_t total = 0;
    size_t j = 0;
    for (const auto& c : comm) {
        int64_t covered = 0;
        while (j < comp.size() && comp[j].end <= c.start)
            ++j;
        for (size_t k = j; k < comp.size() && comp[k].start < c.end; ++k)
            covered += std::min(c.end, comp[k].end) - std::max(c.start, comp[k].start);
        total += (c.end - c.start) - covered;
    }
    return total;
}

// One transfer of a comm class as the representative device sees it (sends, then receives).
struct Hop {
    int64_t dur_ps = 0;
    int64_t latency_ps = 0;
    int32_t ports[2] = {-1, -1};  // the device's own ports on the route
    bool chained = false;
};
struct CommTiming {
    std::vector<Hop> hops[2];  // [0] sends, [1] receives, in issue order
    double hbm_bytes = 0;      // Plan::comm_hbm_bytes(), summed in the same order
    int64_t hbm_ps = 0;        // buffer traffic through HBM
    int64_t overhead_ps = 0;   // the kernel's fixed cost per call
    int64_t floor_ps = 0;      // the kernel's compute units moving what it sends
};

SimResult schedule(const models::ModelConfig& model,
                   const Hardware& hw,
                   const Deployment& dep,
                   const Workload& wl,
                   const Plan& plan) {
    const int64_t d = detail::representative_device(plan);
    const Topology& topo = *plan.topology;
    const detail::PlanShape& shape = *plan.shape;
    const std::vector<detail::SchedOp>& ops = shape.sched;

    // Per request: the op's duration (the SystemC engine's uncontended time).
    std::vector<int64_t> req_ps(plan.timings.size());
    const int64_t latency_ps = to_ps(plan.hbm_latency_s);
    for (size_t i = 0; i < plan.timings.size(); ++i) {
        const detail::OpTiming& t = plan.timings[i];
        int64_t pre = to_ps(t.overhead_s);
        if (t.hbm_bytes > 0) pre += latency_ps;
        req_ps[i] = pre + std::max(to_ps(t.compute_s), to_ps(t.memory_s));
    }
    // Per comm class: the transfers this device sends and receives.
    std::vector<CommTiming> comm(shape.comm.size());
    std::vector<Transfer> buf;
    for (size_t c = 0; c < shape.comm.size(); ++c) {
        if (shape.comm_class[c] != static_cast<int32_t>(c)) continue;
        const CommInfo& ci = shape.comm[c];
        CommTiming& ct = comm[c];
        double sent = 0;
        for (int dir = 0; dir < 2; ++dir) {
            if (dir == 0)
                plan.sends(d, ci, buf);
            else
                detail::receives(plan, d, ci, buf);
            for (const Transfer& x : buf) {
                ct.hbm_bytes += x.bytes;
                if (dir == 0) sent += x.bytes;
                const Route& r = dir == 0 ? topo.route(d, x.dst) : topo.route(x.dst, d);
                Hop h;
                h.dur_ps = plan.transfer_ps(ci, r, x.bytes);
                h.latency_ps = to_ps(r.latency);
                h.chained = x.chained;
                int n = 0;
                for (int64_t p : r.ports) {
                    if (topo.ports()[static_cast<size_t>(p)].device != d) continue;
                    if (n == 2) throw std::logic_error("analytic: a route crosses 3 own ports");
                    h.ports[n++] = static_cast<int32_t>(p);
                }
                ct.hops[dir].push_back(h);
            }
        }
        ct.overhead_ps = to_ps(plan.comm_overhead_s(ci));
        ct.floor_ps = to_ps(plan.comm_unit_floor_s(ci, sent));
        if (ci.pattern == detail::CommPattern::Ring) ct.hbm_bytes = ci.ring_hbm_bytes;
        if (ct.hbm_bytes > 0) {
            const devices::MemoryWork w{"communication", ct.hbm_bytes / 2, ct.hbm_bytes / 2, 0};
            ct.hbm_ps = to_ps(plan.cost->memory_op_time(w).memory_seconds);
        }
    }

    std::vector<int32_t> deps(ops.size());
    using Ready = std::priority_queue<std::pair<int64_t, int32_t>,
                                      std::vector<std::pair<int64_t, int32_t>>, std::greater<>>;
    Ready ready[2];
    size_t left = ops.size();
    for (size_t i = 0; i < ops.size(); ++i) {
        deps[i] = ops[i].deps;
        if (deps[i] == 0)
            ready[static_cast<int>(ops[i].stream)].emplace(ops[i].priority,
                                                           static_cast<int32_t>(i));
    }
    std::vector<int64_t> port_free(topo.ports().size(), 0);
    std::vector<Interval> slices[2];
    slices[0].reserve(ops.size());
    slices[1].reserve(shape.comm.size());
    double matrix_s = 0;
    double ideal_s = 0;
    double hbm_bytes = 0;

    // End of a comm op started at `t0` (books this device's ports in issue order).
    auto comm_end = [&](const CommTiming& ct, int64_t t0) {
        const int64_t begin = t0 + ct.overhead_ps;
        int64_t done = begin + ct.floor_ps;
        for (const auto& hops : ct.hops) {
            int64_t prev = begin;
            for (const Hop& h : hops) {
                int64_t s = h.chained ? prev : begin;
                for (int32_t p : h.ports) {
                    if (p >= 0) s = std::max(s, port_free[static_cast<size_t>(p)]);
                }
                for (int32_t p : h.ports) {
                    if (p >= 0) port_free[static_cast<size_t>(p)] = s + h.dur_ps;
                }
                prev = s + h.dur_ps + h.latency_ps;
                done = std::max(done, prev);
            }
        }
        if (ct.hbm_bytes > 0) {
            hbm_bytes += ct.hbm_bytes;
            done = std::max(done, begin + ct.hbm_ps);
        }
        return done;
    };

    int64_t now = 0;
    int32_t running[2] = {-1, -1};
    int64_t started[2] = {0, 0};
    int64_t ends[2] = {0, 0};
    while (left > 0) {
        for (int s = 0; s < 2; ++s) {
            if (running[s] >= 0 || ready[s].empty()) continue;
            const int32_t op = ready[s].top().second;
            ready[s].pop();
            const detail::SchedOp& so = ops[static_cast<size_t>(op)];
            running[s] = op;
            started[s] = now;
            if (s == 0) {
                const detail::OpTiming* t = nullptr;
                int64_t dur = 0;
                if (so.item >= 0) {
                    t = &plan.timings[static_cast<size_t>(so.item)];
                    dur = req_ps[static_cast<size_t>(so.item)];
                } else {
                    // Per-rank timings (full-mode plans only).
                    t = &plan.timing(plan.ops()[static_cast<size_t>(op)], d);
                    int64_t pre = to_ps(t->overhead_s);
                    if (t->hbm_bytes > 0) pre += latency_ps;
                    dur = pre + std::max(to_ps(t->compute_s), to_ps(t->memory_s));
                }
                ends[s] = now + dur;
                if (t->unit == detail::Unit::Matrix) matrix_s += t->compute_s;
                ideal_s += t->ideal_s;
                hbm_bytes += t->hbm_bytes;
            } else {
                ends[s] = comm_end(comm[static_cast<size_t>(so.item)], now);
            }
        }
        int s = -1;
        for (int k = 0; k < 2; ++k) {
            if (running[k] >= 0 && (s < 0 || ends[k] < ends[s])) s = k;
        }
        if (s < 0) throw std::logic_error("analytic: the step deadlocked (ops never became ready)");
        now = ends[s];
        slices[s].push_back(Interval{started[s], now});
        const detail::SchedOp& so = ops[static_cast<size_t>(running[s])];
        running[s] = -1;
        --left;
        for (int32_t k = so.succ_begin; k < so.succ_end; ++k) {
            const int32_t n = shape.succ[static_cast<size_t>(k)];
            if (--deps[static_cast<size_t>(n)] == 0) {
                const detail::SchedOp& np = ops[static_cast<size_t>(n)];
                ready[static_cast<int>(np.stream)].emplace(np.priority, n);
            }
        }
    }

    SimResult r = detail::step_result(model, hw, dep, wl, plan, now, ideal_s, hbm_bytes);
    r.simulated_devices = 1;
    r.reported_device = d;
    r.exposed_comm_ms = static_cast<double>(exposed(slices[1], slices[0])) * 1e-9;
    int64_t busy[2] = {0, 0};
    for (int s = 0; s < 2; ++s) {
        for (const auto& sl : slices[s])
            busy[s] += sl.end - sl.start;
    }
    r.compute_busy_ms = static_cast<double>(busy[0]) * 1e-9;
    r.comm_busy_ms = static_cast<double>(busy[1]) * 1e-9;
    r.by_resource = {{"compute_stream", r.compute_busy_ms}, {"matrix_unit", matrix_s * 1e3}};
    return r;
}

}  // namespace

SimResult analytic_simulate(const models::ModelConfig& model,
                            const Hardware& hw,
                            const Deployment& dep,
                            const Workload& wl,
                            const AnalyticOptions& options) {
    auto fastest = detail::keep_fastest(
        dep, wl,
        [&](const Deployment& d) {
            const Plan plan = detail::build_plan(model, hw, d, wl, SimOptions{},
                                                 options.use_cache ? &cache() : nullptr);
            return schedule(model, hw, dep, wl, plan);
        },
        [](const SimResult& r) { return r.step_time_ps; });
    SimResult& r = fastest.best;
    if (fastest.other_ps)
        r.micro_batches_other_step_ms = static_cast<double>(*fastest.other_ps) * 1e-9;
    return std::move(r);
}

AnalyticCacheStats analytic_cache_stats() {
    const detail::PlanCache::Stats s = cache().stats();
    return AnalyticCacheStats{s.shape_hits,   s.shape_misses,  s.graph_hits,
                              s.graph_misses, s.topology_hits, s.topology_misses};
}

void clear_analytic_cache() {
    cache().clear();
}

}  // namespace dssim::sim
