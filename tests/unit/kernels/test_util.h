// Shared helpers of the kernel unit tests: deterministic random data and byte comparison.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dssim/numerics/formats.h"

namespace dssim::kernels::test {

// xorshift64: the same stream on every machine.
class Rng {
  public:
    explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
    uint64_t next() {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        return s_;
    }
    // Uniform in [-1, 1) times a random power of two in [2^-lo, 2^hi], so rounding matters.
    float value(int spread = 4) {
        double u = static_cast<double>(next() >> 40) / static_cast<double>(1ULL << 24) * 2.0 - 1.0;
        int e = static_cast<int>(next() % static_cast<uint64_t>(2 * spread + 1)) - spread;
        return static_cast<float>(std::ldexp(u, e));
    }

  private:
    uint64_t s_;
};

inline std::vector<float> random_f32(size_t n, uint64_t seed, int spread = 4) {
    Rng r(seed);
    std::vector<float> v(n);
    for (auto& x : v)
        x = r.value(spread);
    return v;
}

inline std::vector<uint16_t> random_bf16(size_t n, uint64_t seed, int spread = 4) {
    Rng r(seed);
    std::vector<uint16_t> v(n);
    for (auto& x : v)
        x = numerics::bf16_from_f32(r.value(spread));
    return v;
}

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

inline constexpr int kThreadCounts[] = {1, 2, 3, 8};

}  // namespace dssim::kernels::test
