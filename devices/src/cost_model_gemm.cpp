// GEMM and grouped-GEMM (MoE experts) cost: FLOPs at the calibrated fraction of the peak of
// the precision the device runs them in, and memory traffic from a tiling model over the
// on-chip buffer (docs/devices.md, "GEMM memory traffic").
#include <algorithm>
#include <cmath>

#include "dssim/base/error.h"
#include "dssim/devices/cost_model.h"

namespace dssim::devices {

namespace {

void check_shape(int64_t m, int64_t n, int64_t k, std::string_view what) {
    if (m < 0 || n <= 0 || k <= 0) {
        throw InputError(std::string(what) +
                         ": shape must have m >= 0, n > 0, k > 0 (got m=" + std::to_string(m) +
                         " n=" + std::to_string(n) + " k=" + std::to_string(k) + ")");
    }
}

double ceil_div(double a, double b) {
    return std::ceil(a / b);
}

}  // namespace

GemmTiling CostModel::gemm_tiling(const GemmShape& s) const {
    check_shape(s.m, s.n, s.k, "gemm");
    Precision exec = execution_precision(s.dtype);
    double in_bytes = precision_bytes(exec);
    double out_bytes = precision_bytes(s.out_dtype);
    GemmTiling t;
    t.buffer_bytes = onchip_buffer_bytes(nullptr) * calibration_.gemm_tiling.usable_fraction.value;
    double k_tile = calibration_.gemm_tiling.k_tile.value;
    double granule = calibration_.gemm_tiling.granule.value;
    // Output tile held as FP32 accumulators plus double-buffered A and B slices of depth k_tile.
    auto footprint = [&](double edge) {
        return edge * edge * 4.0 + 2.0 * 2.0 * edge * k_tile * in_bytes;
    };
    double edge = granule;
    while (footprint(2.0 * edge) <= t.buffer_bytes) {
        edge *= 2.0;
    }
    double m = static_cast<double>(s.m);
    double n = static_cast<double>(s.n);
    double k = static_cast<double>(s.k);
    t.tile_m = static_cast<int64_t>(std::max(1.0, std::min(m, edge)));
    t.tile_n = static_cast<int64_t>(std::min(n, edge));
    // Each A row-panel is streamed once per column of tiles, each B column-panel once per row.
    t.bytes_a = m * k * in_bytes * ceil_div(n, static_cast<double>(t.tile_n));
    t.bytes_b = m > 0 ? n * k * in_bytes * ceil_div(m, static_cast<double>(t.tile_m)) : 0.0;
    t.bytes_c = m * n * out_bytes;
    return t;
}

OpCost CostModel::gemm_time(const GemmShape& s) const {
    GemmTiling t = gemm_tiling(s);
    std::vector<std::string> assumptions;
    onchip_buffer_bytes(&assumptions);
    double flops =
        2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
    double bytes = t.bytes_a + t.bytes_b + t.bytes_c;
    CurveInputs in;
    in.m = static_cast<double>(s.m);
    in.n = static_cast<double>(s.n);
    in.k = static_cast<double>(s.k);
    in.bytes = bytes;
    in.arithmetic_intensity = bytes > 0 ? flops / bytes : 0.0;
    return roofline(flops, bytes, execution_precision(s.dtype), calibration_.gemm, in,
                    std::move(assumptions));
}

OpCost CostModel::grouped_gemm_time(const GroupedGemmShape& s) const {
    if (s.m_per_group.empty()) {
        throw InputError("grouped gemm: needs at least one group");
    }
    std::vector<std::string> assumptions;
    onchip_buffer_bytes(&assumptions);
    Precision exec = execution_precision(s.dtype);
    double peak = peak_ops(exec, assumptions);
    double flops = 0;
    double bytes = 0;
    std::vector<GemmTiling> tilings;
    for (int64_t m : s.m_per_group) {
        check_shape(m, s.n, s.k, "grouped gemm");
        tilings.push_back(gemm_tiling(GemmShape{m, s.n, s.k, s.dtype, s.out_dtype}));
        if (m > 0) {  // an expert that received no tokens is skipped, weights unread
            bytes += tilings.back().bytes_a + tilings.back().bytes_b + tilings.back().bytes_c;
        }
    }
    const OpCalibration& cal = calibration_.gemm;
    // Groups run back to back inside one kernel: compute time adds up group by group, each at
    // the efficiency of its own rows; memory streams as one transfer of the total bytes.
    double compute_seconds = 0;
    for (int64_t m : s.m_per_group) {
        if (m == 0) {
            continue;
        }
        double f =
            2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k);
        CurveInputs in;
        in.m = static_cast<double>(m);
        in.n = static_cast<double>(s.n);
        in.k = static_cast<double>(s.k);
        in.bytes = bytes;
        in.arithmetic_intensity = bytes > 0 ? f / bytes : 0.0;
        compute_seconds += f / (peak * cal.compute.at(in));
        flops += f;
    }
    CurveInputs total;
    total.bytes = bytes;
    total.k = static_cast<double>(s.k);
    total.n = static_cast<double>(s.n);
    OpCost c;
    c.flops = flops;
    c.bytes = bytes;
    c.executed_as = exec;
    c.compute_seconds = compute_seconds;
    c.compute_efficiency = compute_seconds > 0 ? flops / (peak * compute_seconds) : 0.0;
    c.memory_efficiency = cal.memory.at(total);
    c.memory_seconds = bytes / (memory_bandwidth() * c.memory_efficiency);
    c.overhead_seconds = cal.overhead.value * 1e-6;
    c.bound = c.compute_seconds >= c.memory_seconds ? Bound::Compute : Bound::Memory;
    c.seconds = c.overhead_seconds + std::max(c.compute_seconds, c.memory_seconds);
    c.assumptions = std::move(assumptions);
    return c;
}

}  // namespace dssim::devices
