// Calibration: how far real kernels fall short of a device's peaks, as data with provenance
// (configs/calibration/<name>.json). An efficiency is a product of curves, each a function of
// one property of the op (rows M, depth K, bytes moved, ...), interpolated piecewise-linearly in
// log2 of that property and held constant beyond the end points. Each curve names the
// published table it was read from and how; a family without measurements uses the file
// marked "status": "default". No calibration constant lives in C++.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dssim/base/json_reader.h"

namespace dssim::devices {

enum class CurveAxis { Constant, M, N, K, Bytes, ArithmeticIntensity, Participants };
std::string_view curve_axis_name(CurveAxis a);

// The properties of one op that curves may depend on.
struct CurveInputs {
    double m = 0;
    double n = 0;
    double k = 0;
    double bytes = 0;
    double arithmetic_intensity = 0;  // FLOPs per byte
    double participants = 0;
    [[nodiscard]] double get(CurveAxis axis) const;
};

struct EfficiencyCurve {
    CurveAxis axis = CurveAxis::Constant;
    std::vector<std::pair<double, double>> points;  // (x, efficiency in (0, 1]); x increasing
    std::string source;                             // id in the file's sources table
    std::string derivation;                         // which rows, which arithmetic
    [[nodiscard]] double at(double x) const;
};

// Product of curves (an empty list is 1: the raw peak).
struct Efficiency {
    std::vector<EfficiencyCurve> curves;
    [[nodiscard]] double at(const CurveInputs& in) const;
};

struct CalibratedValue {
    double value = 0;
    std::string unit;
    std::string source;
    std::string derivation;
};

struct OpCalibration {
    Efficiency compute;
    Efficiency memory;
    CalibratedValue overhead;  // us, a fixed cost added once per kernel
};

// GEMM traffic model parameters (docs/devices.md, "GEMM memory traffic").
struct GemmTilingParams {
    CalibratedValue k_tile;           // elements of K staged per step
    CalibratedValue granule;          // smallest output tile edge; tiles are granule * 2^j
    CalibratedValue usable_fraction;  // share of the on-chip buffer a GEMM's tiles may use
};

struct CollectiveCalibration {
    CalibratedValue scale_up_efficiency;   // achieved / per-direction link bandwidth
    CalibratedValue scale_out_efficiency;  // achieved / NIC bandwidth
    CalibratedValue overhead;              // us per collective call
};

// Expert-parallel all-to-all kernels as DeepEP runs them (docs/devices.md, "EP all-to-all").
// Normal kernels (prefill, training) send a token once per destination node and rank and move
// the bytes with a fixed number of compute units; low-latency kernels (decode) send one message
// per token copy. Both pay a fixed cost per call (count exchange, barrier, launch).
struct EpKernelCalibration {
    CalibratedValue scale_up_efficiency;   // achieved / per-direction scale-up bandwidth
    CalibratedValue scale_out_efficiency;  // achieved / NIC bandwidth
    CalibratedValue dispatch_overhead;     // us per dispatch call
    CalibratedValue combine_overhead;      // us per combine call
    // Normal kernels: the compute units (SMs) a call holds and the bytes/s each moves; a call
    // is never faster than its bytes over units x unit bandwidth. value 0: not modelled.
    CalibratedValue compute_units;            // count
    CalibratedValue dispatch_unit_bandwidth;  // GB/s per unit
    CalibratedValue combine_unit_bandwidth;   // GB/s per unit
};

// Stand-ins for device figures nobody has published, so that every device can be simulated.
// A cost model that uses one says so in OpCost::assumptions.
struct Assumptions {
    CalibratedValue onchip_buffer;      // MB, when neither L2 nor SRAM is known
    CalibratedValue nic_bandwidth;      // Gb/s, when the device/system NIC is unknown
    CalibratedValue scale_up_latency;   // us per scale-up transfer, when the device's is unknown
    CalibratedValue scale_out_latency;  // us per network traversal, when the system's is unknown
    CalibratedValue
        runtime_memory_reserve;    // fraction of device memory, when the system's is unknown
    std::string unknown_topology;  // scale-up topology used when unknown
    std::string unknown_topology_reason;
};

struct Calibration {
    std::string name;
    std::string status;  // "calibrated" (fitted to published measurements) or "default"
    std::string description;
    std::map<std::string, std::string> sources;
    std::string file;

    OpCalibration gemm;
    GemmTilingParams gemm_tiling;
    OpCalibration attention_decode;
    OpCalibration attention_prefill;
    OpCalibration elementwise;  // norms, activations, quantisation: memory bound
    CollectiveCalibration collective;
    EpKernelCalibration ep_normal;
    EpKernelCalibration ep_low_latency;
    Assumptions assumptions;
};

Calibration parse_calibration(const Json& json, const std::string& file);
Calibration load_calibration(std::string_view name_or_path);
OrderedJson calibration_to_json(const Calibration& c);
std::vector<std::string> list_calibrations();

}  // namespace dssim::devices
