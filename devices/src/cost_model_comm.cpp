// Collective cost: a fixed per-call overhead, link latency, and bytes over the link each byte
// crosses. Group members are packed into scale-up domains; traffic between members of one
// domain uses the scale-up fabric, traffic between domains uses each device's NIC.
#include <algorithm>
#include <cmath>

#include "dssim/base/error.h"
#include "dssim/devices/cost_model.h"

namespace dssim::devices {

std::string_view collective_kind_name(CollectiveKind k) {
    switch (k) {
        case CollectiveKind::Dispatch:
            return "dispatch";
        case CollectiveKind::Combine:
            return "combine";
        case CollectiveKind::AllToAll:
            return "all_to_all";
        case CollectiveKind::AllReduce:
            return "all_reduce";
        case CollectiveKind::AllGather:
            return "all_gather";
        case CollectiveKind::ReduceScatter:
            return "reduce_scatter";
    }
    return "?";
}

OpCost CostModel::collective_time(const CollectiveWork& w) const {
    if (w.participants < 1 || !(w.bytes >= 0) || !std::isfinite(w.bytes) ||
        w.members_per_domain < 0) {
        throw InputError("collective " + std::string(collective_kind_name(w.kind)) +
                         ": needs participants >= 1, bytes >= 0, members_per_domain >= 0");
    }
    OpCost c;
    c.bytes = w.bytes;
    c.bound = Bound::Latency;
    if (w.participants == 1) {
        return c;  // nothing leaves the device
    }
    std::vector<std::string>& notes = c.assumptions;
    const double p = static_cast<double>(w.participants);
    const double domain = *system_.scale_up_domain.value;

    // Scale-up: per-device injection bandwidth and how many group members share a domain.
    double members = w.members_per_domain > 0
                         ? std::min<double>(static_cast<double>(w.members_per_domain), p)
                         : std::min(p, domain);
    if (members > domain) {
        throw InputError("collective: members_per_domain " + std::to_string(w.members_per_domain) +
                         " exceeds the scale-up domain of " + system_.name + " (" +
                         std::to_string(static_cast<int64_t>(domain)) + ")");
    }
    double up_bw = 0;
    if (members > 1) {
        if (!device_.scale_up.bandwidth_per_direction.known()) {
            notes.push_back(
                "scale_up.bandwidth_per_direction unknown: group members talk over "
                "the NIC only");
            members = 1;
        } else {
            double link = *device_.scale_up.bandwidth_per_direction.value * 1e9;
            std::optional<Topology> topo = device_.topology();
            if (!topo) {
                topo = parse_topology(calibration_.assumptions.unknown_topology);
                notes.push_back("scale_up.topology unknown: assumed " +
                                calibration_.assumptions.unknown_topology);
            }
            // A full mesh splits the device's bandwidth over dedicated links to every other
            // domain member; a group only uses the links to its own members.
            up_bw = *topo == Topology::FullMesh ? link / (domain - 1.0) * (members - 1.0) : link;
        }
    }
    const double domains = std::ceil(p / members);
    double nic_gbps = 0;
    if (domains > 1) {
        if (system_.scale_out.nic_bandwidth_per_device.known()) {
            nic_gbps = *system_.scale_out.nic_bandwidth_per_device.value;
        } else {
            nic_gbps = calibration_.assumptions.nic_bandwidth.value;
            notes.push_back("scale-out NIC bandwidth unknown: assumed " + std::to_string(nic_gbps) +
                            " Gb/s (" + calibration_.file + ")");
        }
    }
    const double nic_bw = nic_gbps * 1e9 / 8.0;
    const double eff_up = calibration_.collective.scale_up_efficiency.value;
    const double eff_out = calibration_.collective.scale_out_efficiency.value;
    c.compute_efficiency = 0;
    c.memory_efficiency = 0;

    auto latency_of = [&](const Quantity& q, std::string_view field) {
        if (q.known()) {
            return *q.value * 1e-6;
        }
        notes.push_back(std::string(field) + " unknown: latency term omitted");
        return 0.0;
    };
    double lat_up = members > 1 ? latency_of(device_.scale_up.latency, "scale_up.latency") : 0.0;
    double lat_out = domains > 1 ? latency_of(system_.scale_out.latency, "scale_out.latency") : 0.0;

    double latency = 0;
    switch (w.kind) {
        case CollectiveKind::Dispatch:
        case CollectiveKind::Combine:
        case CollectiveKind::AllToAll: {
            // Even spread: 1/p stays local, (members-1)/p goes over scale-up, the rest out.
            double intra = w.bytes * (members - 1.0) / p;
            double inter = w.bytes * (p - members) / p;
            c.scale_up_seconds = intra > 0 ? intra / (up_bw * eff_up) : 0.0;
            c.scale_out_seconds = inter > 0 ? inter / (nic_bw * eff_out) : 0.0;
            latency = std::max(lat_up, lat_out);
            c.overhead_seconds = calibration_.collective.overhead.value * 1e-6 + latency;
            c.seconds = c.overhead_seconds + std::max(c.scale_up_seconds, c.scale_out_seconds);
            break;
        }
        case CollectiveKind::AllReduce:
        case CollectiveKind::AllGather:
        case CollectiveKind::ReduceScatter: {
            // Reduce-scatter then all-gather inside each domain, and across domains on the
            // 1/members shard each device owns; all-gather and reduce-scatter are one half.
            double phases = w.kind == CollectiveKind::AllReduce ? 2.0 : 1.0;
            bool mesh = device_.topology() == Topology::FullMesh;
            if (members > 1) {
                c.scale_up_seconds =
                    phases * (members - 1.0) / members * w.bytes / (up_bw * eff_up);
                latency += phases * (mesh ? 1.0 : members - 1.0) * lat_up;
            }
            if (domains > 1) {
                c.scale_out_seconds =
                    phases * (domains - 1.0) / domains * (w.bytes / members) / (nic_bw * eff_out);
                latency += phases * (domains - 1.0) * lat_out;
            }
            c.overhead_seconds = calibration_.collective.overhead.value * 1e-6 + latency;
            c.seconds = c.overhead_seconds + c.scale_up_seconds + c.scale_out_seconds;
            break;
        }
    }
    double biggest = std::max({c.scale_up_seconds, c.scale_out_seconds, c.overhead_seconds});
    c.bound = biggest == c.scale_out_seconds && c.scale_out_seconds > 0 ? Bound::ScaleOut
              : biggest == c.scale_up_seconds && c.scale_up_seconds > 0 ? Bound::ScaleUp
                                                                        : Bound::Latency;
    return c;
}

}  // namespace dssim::devices
