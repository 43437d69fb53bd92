// Topology construction (one vertex per device and switch, one edge per link direction) and
// routing by Dijkstra over hop weights that prefer the scale-up fabric.
#include "dssim/sim/topology.h"

#include <algorithm>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "dssim/base/error.h"

namespace dssim::sim {

namespace {

// Hop weights for routing: a scale-out hop costs more than any scale-up path, so two devices
// of one domain never talk over their NICs.
constexpr double kScaleUpHop = 1.0;
constexpr double kScaleOutHop = 1000.0;

std::string short_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

Topology::Topology(const devices::DeviceSpec& device,
                   const devices::SystemSpec& system,
                   const devices::Calibration& calibration,
                   int64_t devices)
    : devices_(devices) {
    using devices::Topology;
    if (devices < 1) throw_input_error("", "--devices", "must be >= 1");
    const double dpn_v = system.devices_per_node.value.value_or(1.0);
    const auto dpn = static_cast<int64_t>(dpn_v);
    domain_ = static_cast<int64_t>(system.scale_up_domain.value.value_or(1.0));
    if (domain_ < 1) domain_ = 1;
    // A single device uses no links: nothing to build or to assume.
    if (devices == 1) domain_ = 1;

    // Scale-up figures.
    double up_bw = 0;
    if (domain_ > 1) {
        if (device.scale_up.bandwidth_per_direction.known()) {
            up_bw = *device.scale_up.bandwidth_per_direction.value * 1e9 *
                    calibration.collective.scale_up_efficiency.value;
        } else {
            assumptions_.push_back(
                "scale_up.bandwidth_per_direction unknown: devices talk over their NICs only");
            domain_ = 1;
        }
    }
    std::optional<Topology> topo = device.topology();
    if (domain_ > 1 && !topo) {
        topo = devices::parse_topology(calibration.assumptions.unknown_topology);
        if (!topo) topo = Topology::Switch;
        assumptions_.push_back("scale_up.topology unknown: assumed " +
                               calibration.assumptions.unknown_topology);
    }
    double up_lat = 0;
    if (domain_ > 1) {
        if (device.scale_up.latency.known()) {
            up_lat = *device.scale_up.latency.value * 1e-6;
        } else {
            // An unknown latency is never zero: the calibration's estimate, listed.
            const auto& a = calibration.assumptions.scale_up_latency;
            up_lat = a.value * 1e-6;
            assumptions_.push_back("scale_up.latency unknown: estimated " + short_number(a.value) +
                                   " us (calibration " + calibration.name +
                                   ", assumptions.scale_up_latency)");
        }
    }
    const int64_t domains = (devices + domain_ - 1) / domain_;
    double nic_bw = 0;
    double out_lat = 0;
    if (domains > 1) {
        double gbps = 0;
        if (system.scale_out.nic_bandwidth_per_device.known()) {
            gbps = *system.scale_out.nic_bandwidth_per_device.value;
        } else if (device.scale_out.nic_bandwidth.known()) {
            gbps = *device.scale_out.nic_bandwidth.value;
        } else {
            gbps = calibration.assumptions.nic_bandwidth.value;
            assumptions_.push_back("scale-out NIC bandwidth unknown: assumed " +
                                   std::to_string(static_cast<int64_t>(gbps)) + " Gb/s (" +
                                   calibration.file + ")");
        }
        nic_bw = gbps * 1e9 / 8.0 * calibration.collective.scale_out_efficiency.value;
        if (system.scale_out.latency.known()) {
            out_lat = *system.scale_out.latency.value * 1e-6;
        } else {
            const auto& a = calibration.assumptions.scale_out_latency;
            out_lat = a.value * 1e-6;
            assumptions_.push_back("scale_out.latency unknown: estimated " + short_number(a.value) +
                                   " us (calibration " + calibration.name +
                                   ", assumptions.scale_out_latency)");
        }
    }

    auto add_vertex = [&](std::string name, int64_t dev) {
        return boost::add_vertex(TopoVertex{std::move(name), dev}, graph_);
    };
    auto add_port = [&](std::string name, LinkClass cls, int64_t dev) {
        ports_.push_back(PortInfo{std::move(name), cls, dev});
        return static_cast<int64_t>(ports_.size()) - 1;
    };
    auto add_edge = [&](size_t a, size_t b, LinkClass cls, double bw, double lat, int64_t port) {
        boost::add_edge(
            a, b,
            TopoEdge{cls, bw, lat, port, cls == LinkClass::ScaleOut ? kScaleOutHop : kScaleUpHop},
            graph_);
    };
    for (int64_t d = 0; d < devices; ++d)
        add_vertex("dev." + std::to_string(d), d);
    // Device `a`'s scale-up out and in ports to switch vertex `sw`; each hop takes half the
    // device-to-device latency.
    auto attach_to_switch = [&](int64_t a, size_t sw) {
        const std::string pn = "dev." + std::to_string(a) + ".scale_up";
        int64_t out = add_port(pn + ".out", LinkClass::ScaleUp, a);
        int64_t in = add_port(pn + ".in", LinkClass::ScaleUp, a);
        add_edge(static_cast<size_t>(a), sw, LinkClass::ScaleUp, up_bw, up_lat / 2, out);
        add_edge(sw, static_cast<size_t>(a), LinkClass::ScaleUp, up_bw, up_lat / 2, in);
    };

    if (domain_ > 1) {
        for (int64_t dom = 0; dom < domains; ++dom) {
            const int64_t first = dom * domain_;
            const int64_t last = std::min(devices, first + domain_);
            const std::string dn = "domain." + std::to_string(dom);
            if (*topo == Topology::FullMesh) {
                // Dedicated links to every other member share the device's bandwidth.
                const double link = up_bw / static_cast<double>(domain_ - 1);
                for (int64_t a = first; a < last; ++a) {
                    for (int64_t b = first; b < last; ++b) {
                        if (a == b) continue;
                        int64_t p =
                            add_port("dev." + std::to_string(a) + ".mesh." + std::to_string(b),
                                     LinkClass::ScaleUp, a);
                        add_edge(static_cast<size_t>(a), static_cast<size_t>(b), LinkClass::ScaleUp,
                                 link, up_lat, p);
                    }
                }
            } else if (*topo == Topology::Switch || dpn >= domain_ || dpn < 1) {
                size_t sw = add_vertex(dn + ".switch", -1);
                for (int64_t a = first; a < last; ++a)
                    attach_to_switch(a, sw);
            } else {
                // Two tiers: a first-level switch per node, one non-blocking second level.
                size_t l2 = add_vertex(dn + ".l2", -1);
                size_t l1 = 0;
                for (int64_t a = first; a < last; ++a) {
                    if ((a - first) % dpn == 0) {
                        l1 = add_vertex(dn + ".node." + std::to_string((a - first) / dpn) + ".l1",
                                        -1);
                        add_edge(l1, l2, LinkClass::Internal, 0, 0, -1);
                        add_edge(l2, l1, LinkClass::Internal, 0, 0, -1);
                    }
                    attach_to_switch(a, l1);
                }
            }
        }
    }
    if (domains > 1) {
        // Fat tree taken as non-blocking (full bisection): only the NICs limit bandwidth.
        size_t fabric = add_vertex("fabric", -1);
        for (int64_t a = 0; a < devices; ++a) {
            const std::string pn = "dev." + std::to_string(a) + ".nic";
            int64_t out = add_port(pn + ".out", LinkClass::ScaleOut, a);
            int64_t in = add_port(pn + ".in", LinkClass::ScaleOut, a);
            add_edge(static_cast<size_t>(a), fabric, LinkClass::ScaleOut, nic_bw, out_lat / 2, out);
            add_edge(fabric, static_cast<size_t>(a), LinkClass::ScaleOut, nic_bw, out_lat / 2, in);
        }
    }
    routes_.resize(static_cast<size_t>(devices));
}

void Topology::routes_from(int64_t src) const {
    const size_t n = boost::num_vertices(graph_);
    std::vector<size_t> pred(n);
    std::vector<double> dist(n);
    auto weight = boost::get(&TopoEdge::hops, graph_);
    boost::dijkstra_shortest_paths(
        graph_, static_cast<size_t>(src),
        boost::predecessor_map(boost::make_iterator_property_map(
                                   pred.begin(), boost::get(boost::vertex_index, graph_)))
            .distance_map(boost::make_iterator_property_map(
                dist.begin(), boost::get(boost::vertex_index, graph_)))
            .weight_map(weight));
    std::vector<Route>& out = routes_[static_cast<size_t>(src)];
    out.assign(static_cast<size_t>(devices_), Route{});
    for (int64_t dst = 0; dst < devices_; ++dst) {
        if (dst == src) continue;
        Route r;
        r.bandwidth = std::numeric_limits<double>::infinity();
        size_t v = static_cast<size_t>(dst);
        if (pred[v] == v) {
            throw InputError("topology: no route from device " + std::to_string(src) + " to " +
                             std::to_string(dst) + " (no scale-up link and no NIC)");
        }
        while (v != static_cast<size_t>(src)) {
            const size_t u = pred[v];
            // Parallel edges do not occur: take the single edge u -> v.
            auto [e, found] = boost::edge(u, v, graph_);
            if (!found) throw std::logic_error("topology: broken predecessor chain");
            const TopoEdge& te = graph_[e];
            if (te.port >= 0) r.ports.push_back(te.port);
            if (te.bandwidth > 0) r.bandwidth = std::min(r.bandwidth, te.bandwidth);
            r.latency += te.latency;
            if (te.cls == LinkClass::ScaleOut) r.cls = LinkClass::ScaleOut;
            v = u;
        }
        std::reverse(r.ports.begin(), r.ports.end());
        out[static_cast<size_t>(dst)] = std::move(r);
    }
}

void Topology::compute_all_routes() const {
    for (int64_t s = 0; s < devices_; ++s) {
        if (routes_[static_cast<size_t>(s)].empty()) routes_from(s);
    }
}

std::string Topology::signature() const {
    std::string out;
    auto put = [&out](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    auto put_s = [&](const std::string& v) {
        put(v.size());
        out += v;
    };
    put(devices_);
    put(domain_);
    put(ports_.size());
    for (const PortInfo& p : ports_) {
        put_s(p.name);
        put(p.cls);
        put(p.device);
    }
    put(boost::num_vertices(graph_));
    for (auto [v, end] = boost::vertices(graph_); v != end; ++v) {
        put_s(graph_[*v].name);
        put(graph_[*v].device);
        for (auto [e, eend] = boost::out_edges(*v, graph_); e != eend; ++e) {
            const TopoEdge& te = graph_[*e];
            put(boost::target(*e, graph_));
            put(te.cls);
            put(te.bandwidth);
            put(te.latency);
            put(te.port);
            put(te.hops);
        }
        put(size_t{0xffffffff});  // end of this vertex's edges
    }
    put(assumptions_.size());
    for (const auto& a : assumptions_)
        put_s(a);
    return out;
}

const Route& Topology::route(int64_t src, int64_t dst) const {
    std::vector<Route>& from = routes_.at(static_cast<size_t>(src));
    if (from.empty()) routes_from(src);
    return from.at(static_cast<size_t>(dst));
}

}  // namespace dssim::sim
