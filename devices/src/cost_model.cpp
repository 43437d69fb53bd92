// CostModel core: construction, peaks with documented substitutions, the roofline, and
// memory-bound ops (norms, elementwise, quantisation).
#include <algorithm>
#include <cmath>

#include "dssim/base/error.h"
#include "dssim/devices/cost_model.h"

namespace dssim::devices {

std::string_view bound_name(Bound b) {
    switch (b) {
        case Bound::Compute:
            return "compute";
        case Bound::Memory:
            return "memory";
        case Bound::ScaleUp:
            return "scale_up";
        case Bound::ScaleOut:
            return "scale_out";
        case Bound::Latency:
            return "latency";
    }
    return "?";
}

CostModel::CostModel(DeviceSpec device, SystemSpec system, Calibration calibration, Fp8Mode fp8)
    : device_(std::move(device)),
      system_(std::move(system)),
      calibration_(std::move(calibration)),
      fp8_(fp8) {}

CostModel CostModel::for_system(std::string_view system_name_or_path, Fp8Mode fp8) {
    SystemSpec system = load_system(system_name_or_path);
    DeviceSpec device = load_device(system.device);
    Calibration cal = load_calibration(device.calibration);
    return CostModel(std::move(device), std::move(system), std::move(cal), fp8);
}

CostModel CostModel::for_device(std::string_view device_name_or_path, Fp8Mode fp8) {
    DeviceSpec device = load_device(device_name_or_path);
    SystemSpec system = single_node_system(device);
    Calibration cal = load_calibration(device.calibration);
    return CostModel(std::move(device), std::move(system), std::move(cal), fp8);
}

Precision CostModel::execution_precision(Precision stored) const {
    if (stored != Precision::FP8) {
        return stored;
    }
    switch (fp8_) {
        case Fp8Mode::Native:
            return Precision::FP8;
        case Fp8Mode::Int8:
            return Precision::INT8;
        case Fp8Mode::Bf16:
            return Precision::BF16;
        case Fp8Mode::Auto:
            break;
    }
    return device_.compute.fp8_native.value.value_or(false) ? Precision::FP8
                                                            : device_.compute.fp8_fallback;
}

double CostModel::peak_ops(Precision p, std::vector<std::string>& assumptions) const {
    const Quantity& q = device_.compute.peak(p);
    if (q.known()) {
        return *q.value * 1e12;
    }
    // Same operand width, same matrix-unit rate on every chip in configs/devices where both
    // are published; used only when one of the pair is missing, and reported.
    std::optional<Precision> twin;
    switch (p) {
        case Precision::FP8:
            twin = Precision::INT8;
            break;
        case Precision::INT8:
            twin = Precision::FP8;
            break;
        case Precision::BF16:
            twin = Precision::FP16;
            break;
        case Precision::FP16:
            twin = Precision::BF16;
            break;
        case Precision::FP32:
            break;
    }
    if (twin && device_.compute.peak(*twin).known()) {
        assumptions.push_back("compute.peak_dense." + std::string(precision_name(p)) +
                              " unknown: used peak_dense." + std::string(precision_name(*twin)));
        return *device_.compute.peak(*twin).value * 1e12;
    }
    throw InputError(device_.file + ": compute.peak_dense." + std::string(precision_name(p)) +
                     ": needed to time a " + std::string(precision_name(p)) +
                     " matmul but unknown (no published figure)");
}

double CostModel::memory_bandwidth() const {
    return *device_.memory.bandwidth.value * 1e9;
}

double CostModel::onchip_buffer_bytes(std::vector<std::string>* assumptions) const {
    if (device_.on_chip.l2.known()) {
        return *device_.on_chip.l2.value * 1e6;
    }
    if (device_.on_chip.sram.known()) {
        return *device_.on_chip.sram.value * 1e6;
    }
    if (assumptions != nullptr) {
        assumptions->push_back("on_chip.l2 and on_chip.sram unknown: assumed " +
                               std::to_string(calibration_.assumptions.onchip_buffer.value) +
                               " MB (" + calibration_.file + ")");
    }
    return calibration_.assumptions.onchip_buffer.value * 1e6;
}

OpCost CostModel::roofline(double flops,
                           double bytes,
                           Precision exec,
                           const OpCalibration& cal,
                           const CurveInputs& in,
                           std::vector<std::string> assumptions) const {
    OpCost c;
    c.flops = flops;
    c.bytes = bytes;
    c.executed_as = exec;
    if (flops > 0) {
        c.compute_efficiency = cal.compute.at(in);
        c.compute_seconds = flops / (peak_ops(exec, assumptions) * c.compute_efficiency);
    }
    c.memory_efficiency = cal.memory.at(in);
    c.memory_seconds = bytes / (memory_bandwidth() * c.memory_efficiency);
    c.overhead_seconds = cal.overhead.value * 1e-6;
    c.bound = c.compute_seconds >= c.memory_seconds ? Bound::Compute : Bound::Memory;
    c.seconds = c.overhead_seconds + std::max(c.compute_seconds, c.memory_seconds);
    c.assumptions = std::move(assumptions);
    return c;
}

MemoryWork rmsnorm_work(int64_t tokens, int64_t hidden, Precision act) {
    double n = static_cast<double>(tokens) * static_cast<double>(hidden);
    int b = precision_bytes(act);
    // Read x and the weight vector, write y; ~4 flops per element (square, add, scale, mul).
    return MemoryWork{"rmsnorm", n * b + static_cast<double>(hidden) * b, n * b, 4.0 * n};
}

MemoryWork quantize_work(int64_t tokens, int64_t hidden, int64_t group) {
    if (group <= 0) {
        throw InputError("quantize_work: group must be positive");
    }
    double n = static_cast<double>(tokens) * static_cast<double>(hidden);
    double scales = static_cast<double>(tokens) *
                    std::ceil(static_cast<double>(hidden) / static_cast<double>(group));
    // BF16 in; 1-byte values and FP32 scales out; amax, divide and round per element.
    return MemoryWork{"act_quant", 2.0 * n, n + 4.0 * scales, 3.0 * n};
}

MemoryWork elementwise_work(std::string kind, double elements, int inputs, Precision act) {
    int b = precision_bytes(act);
    return MemoryWork{std::move(kind), elements * inputs * b, elements * b, elements * inputs};
}

OpCost CostModel::memory_op_time(const MemoryWork& work) const {
    if (!(work.bytes_read >= 0) || !(work.bytes_written >= 0) || !(work.flops >= 0)) {
        throw InputError("memory op '" + work.kind + "': bytes and flops must be >= 0");
    }
    const OpCalibration& cal = calibration_.elementwise;
    CurveInputs in;
    in.bytes = work.bytes_read + work.bytes_written;
    OpCost c;
    c.flops = work.flops;
    c.bytes = in.bytes;
    c.executed_as = Precision::FP32;
    c.memory_efficiency = cal.memory.at(in);
    c.memory_seconds = c.bytes / (memory_bandwidth() * c.memory_efficiency);
    c.overhead_seconds = cal.overhead.value * 1e-6;
    c.bound = Bound::Memory;
    c.seconds = c.overhead_seconds + c.memory_seconds;
    return c;
}

}  // namespace dssim::devices
