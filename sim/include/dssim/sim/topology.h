// The interconnect as a Boost.Graph: devices, scale-up switches (NVSwitch star, two-tier
// Unified Bus) or direct links (full mesh), and the scale-out fabric reached through each
// device's NIC. Device ports are the bandwidth-limited resources; switches and fat-tree cores
// are taken as non-blocking (they add latency only), see docs/simulator.md "Topology".
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "dssim/devices/calibration.h"
#include "dssim/devices/device_spec.h"
#include "dssim/devices/system_spec.h"

namespace dssim::sim {

enum class LinkClass { ScaleUp, ScaleOut, Internal };

struct TopoVertex {
    std::string name;     // "dev.12", "node.1.switch", "fabric"
    int64_t device = -1;  // device id for device vertices
};
struct TopoEdge {
    LinkClass cls = LinkClass::Internal;
    double bandwidth = 0;  // bytes/s achieved (peak x calibrated efficiency); 0: non-blocking
    double latency = 0;    // seconds for one traversal
    int64_t port = -1;     // index of the bandwidth-limited port resource, -1 if none
    double hops = 1;       // routing weight (scale-out hops weigh more than scale-up paths)
};
using TopoGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, TopoVertex, TopoEdge>;

// A route between two devices: the bandwidth-limited ports it crosses, its bottleneck
// bandwidth and total latency.
struct Route {
    std::vector<int64_t> ports;
    double bandwidth = 0;
    double latency = 0;
    LinkClass cls = LinkClass::ScaleUp;  // ScaleOut if any hop leaves the scale-up domain
};

struct PortInfo {
    std::string name;  // "dev.3.scale_up.out"
    LinkClass cls = LinkClass::ScaleUp;
    int64_t device = -1;
};

class Topology {
  public:
    // `devices` devices laid out node by node (devices_per_node of the system); devices in the
    // same scale-up domain talk over scale-up links, others over their NICs. Unknown figures
    // are replaced as the calibration's assumptions say and recorded in `assumptions`.
    Topology(const devices::DeviceSpec& device,
             const devices::SystemSpec& system,
             const devices::Calibration& calibration,
             int64_t devices);

    [[nodiscard]] const TopoGraph& graph() const { return graph_; }
    [[nodiscard]] int64_t devices() const { return devices_; }
    [[nodiscard]] int64_t domain_size() const { return domain_; }
    [[nodiscard]] int64_t domain_of(int64_t device) const { return device / domain_; }
    [[nodiscard]] const std::vector<PortInfo>& ports() const { return ports_; }
    [[nodiscard]] const std::vector<std::string>& assumptions() const { return assumptions_; }
    // Shortest route (fewest hops, scale-up preferred); computed per source and cached.
    [[nodiscard]] const Route& route(int64_t src, int64_t dst) const;
    // Computes every route now; afterwards route() never modifies the object, so one
    // Topology may be shared between threads.
    void compute_all_routes() const;
    // Everything routes and port bookings depend on (devices, domain, ports, every vertex and
    // edge with its properties, assumptions) as bytes: equal signatures, equal behaviour.
    [[nodiscard]] std::string signature() const;

  private:
    void routes_from(int64_t src) const;

    TopoGraph graph_;
    int64_t devices_ = 0;
    int64_t domain_ = 1;
    std::vector<PortInfo> ports_;
    std::vector<std::string> assumptions_;
    mutable std::vector<std::vector<Route>> routes_;  // [src][dst], filled lazily
};

}  // namespace dssim::sim
