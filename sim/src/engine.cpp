// The SystemC side of the simulator. One host module is elaborated per process; every run
// spawns dynamic threads (two per simulated device: the compute stream and the communication
// stream) and calls sc_start() until the step's events run out. The timed resources are
// TLM-2.0 loosely-timed targets driven through b_transport with generic payloads:
//   - HbmMemory: the device's HBM as a bandwidth server shared by concurrent tile-sized
//     transactions (processor sharing: n active transactions each progress at 1/n of the
//     bandwidth), blocking until the transaction is served;
//   - LinkFabric: the device ports of the topology as reservation calendars; a transfer books
//     the ports of its route at the earliest common free interval and returns the delivery
//     time as the LT annotated delay (no wait inside, the initiator syncs once per op).
// Times are integer picoseconds relative to the run's start, so a run's results do not
// depend on what the process simulated before (docs/simulator.md, "One kernel, many runs").
#include <systemc>
#include <tlm>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <queue>
#include <stdexcept>

#include "plan.h"

namespace dssim::sim::detail {

namespace {

using sc_core::sc_time;

sc_time ps_time(int64_t ps) {
    return sc_time::from_value(static_cast<sc_dt::uint64>(std::max<int64_t>(ps, 0)));
}
int64_t to_ps(double seconds) {
    return std::llround(seconds * 1e12);
}

// The elaborated top: empty (the per-run structure is dynamic), it exists so that the
// kernel is elaborated once and sc_start() can be called for every run.
class Host : public sc_core::sc_module {
  public:
    explicit Host(const sc_core::sc_module_name& name) : sc_core::sc_module(name) {}
};

Host& host() {
    static Host* h = [] {
        // The banner is printed on first kernel use unless this is set.
        setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
        auto* top = new Host("dssim_sim_host");
        if (sc_core::sc_get_time_resolution() != sc_time(1, sc_core::SC_PS)) {
            throw std::logic_error("simulator: SystemC time resolution must be 1 ps");
        }
        return top;
    }();
    return *h;
}

// ---- TLM payload extensions ----------------------------------------------------------------

struct HbmWork : tlm::tlm_extension<HbmWork> {
    double work_ps = 0;  // occupancy at the full bandwidth (bytes / (bandwidth * efficiency))
    double bytes = 0;
    tlm::tlm_extension_base* clone() const override { return new HbmWork(*this); }
    void copy_from(const tlm::tlm_extension_base& e) override {
        *this = static_cast<const HbmWork&>(e);
    }
};

struct TransferWork : tlm::tlm_extension<TransferWork> {
    const Route* route = nullptr;
    int64_t owner = -1;  // symmetric mode: book only this device's ports (-1: all ports)
    int64_t ready_ps = 0;
    int64_t duration_ps = 0;
    int64_t start_ps = 0;  // out
    int64_t end_ps = 0;    // out: delivery (incl. latency)
    tlm::tlm_extension_base* clone() const override { return new TransferWork(*this); }
    void copy_from(const tlm::tlm_extension_base& e) override {
        *this = static_cast<const TransferWork&>(e);
    }
};

// Minimal LT target base: only b_transport is meaningful.
class LtTarget : public tlm::tlm_fw_transport_if<> {
  public:
    tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload&,
                                       tlm::tlm_phase&,
                                       sc_time&) override {
        throw std::logic_error("simulator: targets are loosely timed (b_transport only)");
    }
    bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&) override { return false; }
    unsigned int transport_dbg(tlm::tlm_generic_payload&) override { return 0; }
};

// ---- HBM: processor-sharing bandwidth server ------------------------------------------------

class HbmMemory : public LtTarget {
  public:
    double bytes = 0;
    int64_t busy_ps = 0;

    void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) override {
        if (delay != sc_core::SC_ZERO_TIME) {
            sc_core::wait(delay);
            delay = sc_core::SC_ZERO_TIME;
        }
        HbmWork* w = nullptr;
        gp.get_extension(w);
        bytes += w->bytes;
        advance();
        Flow f{w->work_ps};
        active_.push_back(&f);
        changed_.notify();
        while (f.remaining > 1e-6) {
            const double n = static_cast<double>(active_.size());
            const auto t = static_cast<int64_t>(std::ceil(f.remaining * n - 1e-6));
            sc_core::wait(ps_time(std::max<int64_t>(t, 1)), changed_);
            advance();
        }
        active_.erase(std::find(active_.begin(), active_.end(), &f));
        changed_.notify();
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }

  private:
    struct Flow {
        double remaining;
    };
    void advance() {
        const auto now = static_cast<int64_t>(sc_core::sc_time_stamp().value());
        const int64_t dt = now - last_;
        if (dt > 0 && !active_.empty()) {
            const double share = static_cast<double>(dt) / static_cast<double>(active_.size());
            for (Flow* f : active_)
                f->remaining -= share;
            busy_ps += dt;
        }
        last_ = now;
    }
    std::vector<Flow*> active_;
    int64_t last_ = 0;
    sc_core::sc_event changed_;
};

// ---- Links: reservation calendars on device ports -------------------------------------------

class PortCalendar {
  public:
    // Earliest start >= t at which [start, start + d) is free.
    int64_t fit(int64_t t, int64_t d) const {
        auto it = busy_.upper_bound(t);
        if (it != busy_.begin()) {
            auto prev = std::prev(it);
            if (prev->second > t) t = prev->second;
        }
        while (it != busy_.end() && it->first < t + d) {
            t = std::max(t, it->second);
            ++it;
        }
        return t;
    }
    // Adjacent bookings are merged, so a port busy back to back is one interval and fit()
    // stays logarithmic.
    void book(int64_t s, int64_t d) {
        if (d <= 0) return;
        int64_t e = s + d;
        auto next = busy_.lower_bound(s);
        if (next != busy_.end() && next->first == e) {
            e = next->second;
            next = busy_.erase(next);
        }
        if (next != busy_.begin()) {
            auto prev = std::prev(next);
            if (prev->second == s) {
                prev->second = e;
                return;
            }
        }
        busy_.emplace_hint(next, s, e);
    }
    void prune(int64_t now) {
        while (!busy_.empty() && busy_.begin()->second <= now)
            busy_.erase(busy_.begin());
    }

  private:
    std::map<int64_t, int64_t> busy_;  // start -> end, non-overlapping
};

class LinkFabric : public LtTarget {
  public:
    LinkFabric(const Topology& topo, int64_t t0)
        : topo_(topo), t0_(t0), ports_(topo.ports().size()) {}

    // `delay` in: unused (ready time is in the extension); out: delivery - now.
    void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) override {
        TransferWork* w = nullptr;
        gp.get_extension(w);
        const int64_t now = static_cast<int64_t>(sc_core::sc_time_stamp().value()) - t0_;
        int64_t s = std::max(w->ready_ps, now);
        const std::vector<int64_t>& ports = w->route->ports;
        auto mine = [&](int64_t p) {
            return w->owner < 0 || topo_.ports()[static_cast<size_t>(p)].device == w->owner;
        };
        for (int64_t p : ports) {
            if (mine(p)) ports_[static_cast<size_t>(p)].prune(now);
        }
        // Move the start until every port of the route is free for the whole duration.
        for (bool moved = true; moved && w->duration_ps > 0;) {
            moved = false;
            for (int64_t p : ports) {
                if (!mine(p)) continue;
                const int64_t f = ports_[static_cast<size_t>(p)].fit(s, w->duration_ps);
                if (f != s) {
                    s = f;
                    moved = true;
                }
            }
        }
        for (int64_t p : ports) {
            if (mine(p)) ports_[static_cast<size_t>(p)].book(s, w->duration_ps);
        }
        w->start_ps = s;
        w->end_ps = s + w->duration_ps + to_ps(w->route->latency);
        delay = ps_time(w->end_ps - now);
        gp.set_response_status(tlm::TLM_OK_RESPONSE);
    }

  private:
    const Topology& topo_;
    int64_t t0_;
    std::vector<PortCalendar> ports_;
};

// ---- Device runtime ---------------------------------------------------------------------

struct DeviceRt {
    int64_t id = 0;
    HbmMemory hbm;
    using Ready = std::priority_queue<std::pair<int64_t, int32_t>,
                                      std::vector<std::pair<int64_t, int32_t>>,
                                      std::greater<>>;
    Ready ready[2];
    sc_core::sc_event ready_ev[2];
    sc_core::sc_event arrival_ev;
    std::vector<int32_t> deps;
    int64_t left[2] = {0, 0};
    std::vector<int32_t> in_count, in_expected;  // full mode, per comm op
    std::vector<int64_t> in_last;
    DeviceStats stats;
};

class Run {
  public:
    Run(const Plan& plan, bool record_transfers) : plan_(plan), record_(record_transfers) {
        t0_ = static_cast<int64_t>(sc_core::sc_time_stamp().value());
        fabric_ = std::make_unique<LinkFabric>(*plan.topology, t0_);
        std::vector<int64_t> sim;
        if (plan.mode == Mode::Full) {
            for (int64_t d = 0; d < plan.devices; ++d)
                sim.push_back(d);
        } else {
            sim.push_back(representative_device(plan_));
        }
        index_.assign(static_cast<size_t>(plan.devices), -1);
        for (int64_t d : sim) {
            index_[static_cast<size_t>(d)] = static_cast<int64_t>(devs_.size());
            auto rt = std::make_unique<DeviceRt>();
            rt->id = d;
            rt->deps.resize(plan.ops().size());
            for (size_t i = 0; i < plan.ops().size(); ++i) {
                const PlanOp& po = plan.ops()[i];
                rt->deps[i] = po.deps;
                ++rt->left[static_cast<int>(po.stream)];
                if (po.deps == 0) rt->ready[static_cast<int>(po.stream)].emplace(po.priority, i);
            }
            if (plan.mode == Mode::Full) {
                rt->in_count.assign(plan.comm().size(), 0);
                rt->in_expected.assign(plan.comm().size(), 0);
                rt->in_last.assign(plan.comm().size(), 0);
            }
            devs_.push_back(std::move(rt));
        }
        if (plan.mode == Mode::Full) {
            std::vector<Transfer> t;
            for (int64_t d = 0; d < plan.devices; ++d) {
                for (size_t c = 0; c < plan.comm().size(); ++c) {
                    plan.sends(d, plan.comm()[c], t);
                    for (const Transfer& x : t)
                        ++devs_[static_cast<size_t>(index_[static_cast<size_t>(x.dst)])]
                              ->in_expected[c];
                }
            }
        }
    }

    RunOutput execute() {
        std::vector<sc_core::sc_process_handle> handles;
        sc_core::sc_spawn_options opts;
        opts.set_stack_size(256 * 1024);
        for (auto& d : devs_) {
            DeviceRt* rt = d.get();
            handles.push_back(sc_core::sc_spawn([this, rt] { guarded([&] { compute_loop(*rt); }); },
                                                nullptr, &opts));
            handles.push_back(sc_core::sc_spawn([this, rt] { guarded([&] { comm_loop(*rt); }); },
                                                nullptr, &opts));
        }
        sc_core::sc_start();
        bool stuck = false;
        for (auto& h : handles) {
            if (!h.terminated()) {
                stuck = true;
                h.kill();
            }
        }
        if (stuck) sc_core::sc_start(sc_core::SC_ZERO_TIME);
        if (error_) std::rethrow_exception(error_);
        if (stuck)
            throw std::logic_error("simulator: the step deadlocked (ops never became ready)");
        RunOutput out;
        for (auto& d : devs_) {
            d->stats.hbm_bytes = d->hbm.bytes;
            d->stats.hbm_busy_ps = d->hbm.busy_ps;
            out.simulated.push_back(d->id);
            out.stats.push_back(std::move(d->stats));
        }
        out.transfers = std::move(transfers_);
        return out;
    }

  private:
    template <typename F>
    void guarded(F&& body) {
        try {
            body();
        } catch (...) {
            if (!error_) error_ = std::current_exception();
        }
    }

    int64_t now() const { return static_cast<int64_t>(sc_core::sc_time_stamp().value()) - t0_; }

    void complete(DeviceRt& d, int32_t op, int64_t start) {
        const PlanOp& po = plan_.ops()[static_cast<size_t>(op)];
        const int s = static_cast<int>(po.stream);
        d.stats.slices[s].push_back(Slice{op, start, now()});
        d.stats.finish_ps = std::max(d.stats.finish_ps, now());
        --d.left[s];
        for (int32_t n : po.succ) {
            if (--d.deps[static_cast<size_t>(n)] == 0) {
                const PlanOp& np = plan_.ops()[static_cast<size_t>(n)];
                const int ns = static_cast<int>(np.stream);
                d.ready[ns].emplace(np.priority, n);
                d.ready_ev[ns].notify();
            }
        }
    }

    int32_t next(DeviceRt& d, int s) {
        while (d.ready[s].empty())
            sc_core::wait(d.ready_ev[s]);
        const int32_t op = d.ready[s].top().second;
        d.ready[s].pop();
        return op;
    }

    void hbm_access(DeviceRt& d, double work_s, double bytes) {
        if (work_s <= 0 && bytes <= 0) return;
        tlm::tlm_generic_payload gp;
        HbmWork w;
        w.work_ps = work_s * 1e12;
        w.bytes = bytes;
        gp.set_extension(&w);
        gp.set_command(tlm::TLM_READ_COMMAND);
        sc_time delay = sc_core::SC_ZERO_TIME;
        d.hbm.b_transport(gp, delay);
        gp.clear_extension(&w);
    }

    void compute_loop(DeviceRt& d) {
        while (d.left[0] > 0) {
            const int32_t op = next(d, 0);
            const PlanOp& po = plan_.ops()[static_cast<size_t>(op)];
            const OpTiming& t = plan_.timing(po, d.id);
            const int64_t start = now();
            int64_t pre = to_ps(t.overhead_s);
            if (t.hbm_bytes > 0) pre += to_ps(plan_.hbm_latency_s);
            if (pre > 0) sc_core::wait(ps_time(pre));
            // Tile-sized transactions: each tile's HBM traffic and its share of the unit's
            // work overlap (double buffering); a tile lasts as long as the slower of the two.
            int tiles = 1;
            if (t.hbm_bytes > plan_.hbm_tile_bytes) {
                tiles = static_cast<int>(std::min<double>(
                    plan_.max_tiles, std::ceil(t.hbm_bytes / plan_.hbm_tile_bytes)));
            }
            const int64_t unit_ps = to_ps(t.compute_s / tiles);
            for (int i = 0; i < tiles; ++i) {
                const int64_t tile_start = now();
                hbm_access(d, t.memory_s / tiles, t.hbm_bytes / tiles);
                const int64_t elapsed = now() - tile_start;
                if (unit_ps > elapsed) sc_core::wait(ps_time(unit_ps - elapsed));
            }
            if (t.unit == Unit::Matrix) d.stats.matrix_busy_s += t.compute_s;
            d.stats.ideal_s += t.ideal_s;
            complete(d, op, start);
        }
    }

    void comm_loop(DeviceRt& d) {
        std::vector<Transfer> buf;
        const bool full = plan_.mode == Mode::Full;
        const Topology& topo = *plan_.topology;
        while (d.left[1] > 0) {
            const int32_t op = next(d, 1);
            const PlanOp& po = plan_.ops()[static_cast<size_t>(op)];
            const CommInfo& c = plan_.comm()[static_cast<size_t>(po.comm)];
            const int64_t start = now();
            const int64_t overhead_ps = to_ps(plan_.comm_overhead_s(c));
            if (overhead_ps > 0) sc_core::wait(ps_time(overhead_ps));
            int64_t done = now();
            // Sends: book the route's ports (full mode: all of them; symmetric mode: this
            // device's own ports, the peers' side being the mirror image).
            plan_.sends(d.id, c, buf);
            double sent = 0;
            for (const Transfer& x : buf)
                sent += x.bytes;
            done += to_ps(plan_.comm_unit_floor_s(c, sent));
            int64_t prev = now();
            for (const Transfer& x : buf) {
                const Route& r = topo.route(d.id, x.dst);
                const int64_t end = transfer(r, c, full ? -1 : d.id, x, prev, d, true);
                prev = end;
                done = std::max(done, end);
                if (full) arrive(x.dst, po.comm, end);
                if (record_) {
                    transfers_.push_back(
                        TransferRecord{d.id, x.dst, op, last_start_, end, x.bytes});
                }
            }
            if (!full) {
                // The mirror: peers send to this device at the same steps.
                receives(plan_, d.id, c, buf);
                prev = now();
                for (const Transfer& x : buf) {
                    const Route& r = topo.route(x.dst, d.id);
                    const int64_t end = transfer(r, c, d.id, x, prev, d, false);
                    prev = end;
                    done = std::max(done, end);
                }
            }
            const double bytes = plan_.comm_hbm_bytes(d.id, c);
            if (bytes > 0) {
                devices::MemoryWork w{"communication", bytes / 2, bytes / 2, 0};
                hbm_access(d, plan_.cost->memory_op_time(w).memory_seconds, bytes);
            }
            if (full) {
                const auto ci = static_cast<size_t>(po.comm);
                while (d.in_count[ci] < d.in_expected[ci])
                    sc_core::wait(d.arrival_ev);
                done = std::max(done, d.in_last[ci]);
            }
            if (done > now()) sc_core::wait(ps_time(done - now()));
            complete(d, op, start);
        }
    }

    // Books one transfer through the fabric (a TLM LT transaction); returns its delivery time.
    int64_t transfer(const Route& r,
                     const CommInfo& c,
                     int64_t owner,
                     const Transfer& x,
                     int64_t prev,
                     DeviceRt& d,
                     bool sending) {
        TransferWork w;
        w.route = &r;
        w.owner = owner;
        w.ready_ps = x.chained ? prev : now();
        w.duration_ps = plan_.transfer_ps(c, r, x.bytes);
        tlm::tlm_generic_payload gp;
        gp.set_extension(&w);
        gp.set_command(tlm::TLM_WRITE_COMMAND);
        sc_time delay = sc_core::SC_ZERO_TIME;
        fabric_->b_transport(gp, delay);
        gp.clear_extension(&w);
        last_start_ = w.start_ps;
        // Egress busy time of this device's first port.
        if (sending && !r.ports.empty()) {
            const PortInfo& pi = plan_.topology->ports()[static_cast<size_t>(r.ports.front())];
            d.stats.port_busy_ps[pi.cls == LinkClass::ScaleOut ? 1 : 0] += w.duration_ps;
        }
        return w.end_ps;
    }

    void arrive(int64_t dst, int32_t comm, int64_t end) {
        DeviceRt& r = *devs_[static_cast<size_t>(index_[static_cast<size_t>(dst)])];
        const auto ci = static_cast<size_t>(comm);
        ++r.in_count[ci];
        r.in_last[ci] = std::max(r.in_last[ci], end);
        if (r.in_count[ci] == r.in_expected[ci]) r.arrival_ev.notify();
    }

    const Plan& plan_;
    bool record_;
    int64_t t0_ = 0;
    std::unique_ptr<LinkFabric> fabric_;
    std::vector<std::unique_ptr<DeviceRt>> devs_;
    std::vector<int64_t> index_;
    std::vector<TransferRecord> transfers_;
    int64_t last_start_ = 0;
    std::exception_ptr error_;
};

std::mutex& kernel_mutex() {
    static std::mutex m;
    return m;
}

}  // namespace

RunOutput run_plan(const Plan& plan, bool record_transfers) {
    std::lock_guard<std::mutex> lock(kernel_mutex());
    host();
    Run run(plan, record_transfers);
    return run.execute();
}

}  // namespace dssim::sim::detail

// libsystemc references sc_main (for its own main(), which dssim does not use: executables
// keep their main and the simulator drives the kernel with sc_start()). Never called.
extern "C" int sc_main(int /*argc*/, char* /*argv*/[]) {
    return 0;
}
