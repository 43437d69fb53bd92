// Collective cost: a fixed per-call overhead, link latency, and bytes over the link each byte
// crosses. Group members are packed into scale-up domains; traffic between members of one
// domain uses the scale-up fabric, traffic between domains uses each device's NIC. EP
// all-to-alls follow DeepEP's kernels (deduplicated per domain and rank, or one message per
// copy) with their own calibration (docs/devices.md, "EP all-to-all").
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "dssim/base/error.h"
#include "dssim/devices/cost_model.h"

namespace dssim::devices {

namespace {
std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}
}  // namespace

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

    double lat_up = members > 1 ? scale_up_latency_seconds(&notes) : 0.0;
    double lat_out = domains > 1 ? scale_out_latency_seconds(&notes) : 0.0;

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

std::string_view ep_kernel_name(EpKernel k) {
    return k == EpKernel::Normal ? "normal" : "low_latency";
}

double CostModel::scale_up_latency_seconds(std::vector<std::string>* notes) const {
    if (device_.scale_up.latency.known()) return *device_.scale_up.latency.value * 1e-6;
    const CalibratedValue& a = calibration_.assumptions.scale_up_latency;
    if (notes) {
        notes->push_back("scale_up.latency unknown: estimated " + format_number(a.value) +
                         " us (calibration " + calibration_.name +
                         ", assumptions.scale_up_latency)");
    }
    return a.value * 1e-6;
}

double CostModel::scale_out_latency_seconds(std::vector<std::string>* notes) const {
    if (system_.scale_out.latency.known()) return *system_.scale_out.latency.value * 1e-6;
    const CalibratedValue& a = calibration_.assumptions.scale_out_latency;
    if (notes) {
        notes->push_back("scale_out.latency unknown: estimated " + format_number(a.value) +
                         " us (calibration " + calibration_.name +
                         ", assumptions.scale_out_latency)");
    }
    return a.value * 1e-6;
}

const EpKernelCalibration& CostModel::ep_calibration(EpKernel k) const {
    return k == EpKernel::Normal ? calibration_.ep_normal : calibration_.ep_low_latency;
}

double CostModel::ep_overhead_seconds(EpKernel k, CollectiveKind kind) const {
    const EpKernelCalibration& c = ep_calibration(k);
    return (kind == CollectiveKind::Combine ? c.combine_overhead : c.dispatch_overhead).value *
           1e-6;
}

double CostModel::ep_unit_rate(EpKernel k, CollectiveKind kind, int64_t units) const {
    const EpKernelCalibration& c = ep_calibration(k);
    const double n = units > 0 ? static_cast<double>(units) : c.compute_units.value;
    if (!(n > 0)) return 0.0;
    const double per_unit =
        (kind == CollectiveKind::Combine ? c.combine_unit_bandwidth : c.dispatch_unit_bandwidth)
            .value;
    return n * per_unit * 1e9;
}

EpTraffic ep_traffic(const EpAllToAllWork& w, int64_t scale_up_domain) {
    EpTraffic t;
    const int64_t p = std::max<int64_t>(1, w.participants);
    int64_t m = w.members_per_domain > 0 ? std::min(w.members_per_domain, p)
                                         : std::min(p, std::max<int64_t>(1, scale_up_domain));
    // A group that does not tile into whole domains is treated as one flat domain of ranks.
    if (p % m != 0) m = 1;
    t.members = m;
    t.domains = p / m;
    const double mm = static_cast<double>(m), dd = static_cast<double>(t.domains);
    const double pp = static_cast<double>(p);
    if (w.kernel == EpKernel::Normal) {
        // Every (token, destination rank) delivery except the one landing on the forwarding
        // rank itself crosses a scale-up link once; every (token, other domain) crosses a NIC.
        t.scale_up_bytes = w.tokens * w.ranks * (mm - 1.0) / mm * w.bytes_per_copy;
        t.scale_out_bytes = w.tokens * w.domains * (dd - 1.0) / dd * w.bytes_per_copy;
        if (m == 1) {
            // Flat: each (token, rank) pair goes straight to the rank over the NIC.
            t.scale_up_bytes = 0;
            t.scale_out_bytes = w.tokens * w.ranks * (pp - 1.0) / pp * w.bytes_per_copy;
        }
    } else {
        // One message per token copy, straight to the expert's rank.
        t.scale_up_bytes = w.tokens * w.copies * (mm - 1.0) / pp * w.bytes_per_copy;
        t.scale_out_bytes = w.tokens * w.copies * (pp - mm) / pp * w.bytes_per_copy;
    }
    return t;
}

OpCost CostModel::ep_all_to_all_time(const EpAllToAllWork& w) const {
    if (w.participants < 1 || !(w.tokens >= 0) || !(w.bytes_per_copy >= 0) || !(w.copies >= 0) ||
        !(w.ranks >= 0) || !(w.domains >= 0) ||
        (w.kind != CollectiveKind::Dispatch && w.kind != CollectiveKind::Combine)) {
        throw InputError(
            "EP all-to-all: needs a dispatch or combine, participants >= 1 and non-negative "
            "tokens, bytes, copies, ranks and domains");
    }
    OpCost c;
    c.bound = Bound::Latency;
    if (w.participants == 1) return c;  // nothing leaves the device
    std::vector<std::string>& notes = c.assumptions;
    const double domain = *system_.scale_up_domain.value;
    const EpTraffic t = ep_traffic(w, static_cast<int64_t>(domain));
    const EpKernelCalibration& cal = ep_calibration(w.kernel);
    c.bytes = t.scale_up_bytes + t.scale_out_bytes;
    double lat = 0;
    if (t.scale_up_bytes > 0) {
        if (!device_.scale_up.bandwidth_per_direction.known()) {
            throw InputError("EP all-to-all on " + device_.name +
                             ": scale_up.bandwidth_per_direction unknown (" + device_.file + ")");
        }
        const double bw = *device_.scale_up.bandwidth_per_direction.value * 1e9;
        c.scale_up_seconds = t.scale_up_bytes / (bw * cal.scale_up_efficiency.value);
        lat = std::max(lat, scale_up_latency_seconds(&notes));
    }
    if (t.scale_out_bytes > 0) {
        double gbps = 0;
        if (system_.scale_out.nic_bandwidth_per_device.known()) {
            gbps = *system_.scale_out.nic_bandwidth_per_device.value;
        } else {
            gbps = calibration_.assumptions.nic_bandwidth.value;
            notes.push_back("scale-out NIC bandwidth unknown: assumed " + format_number(gbps) +
                            " Gb/s (" + calibration_.file + ")");
        }
        c.scale_out_seconds =
            t.scale_out_bytes / (gbps * 1e9 / 8.0 * cal.scale_out_efficiency.value);
        lat = std::max(lat, scale_out_latency_seconds(&notes));
    }
    const double rate = ep_unit_rate(w.kernel, w.kind, w.compute_units);
    const double units_s = rate > 0 ? c.bytes / rate : 0.0;
    c.overhead_seconds = ep_overhead_seconds(w.kernel, w.kind) + lat;
    const double moving = std::max({c.scale_up_seconds, c.scale_out_seconds, units_s});
    c.seconds = c.overhead_seconds + moving;
    c.compute_efficiency = 0;
    c.memory_efficiency = 0;
    c.bound = moving <= c.overhead_seconds    ? Bound::Latency
              : moving == c.scale_out_seconds ? Bound::ScaleOut
              : moving == c.scale_up_seconds  ? Bound::ScaleUp
                                              : Bound::Compute;
    return c;
}

}  // namespace dssim::devices
