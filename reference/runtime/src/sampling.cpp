// Greedy and seeded sampling. The RNG is SplitMix64 (Steele, Lea, Flood 2014) used as a
// counter-based generator: a draw is a pure function of (seed, sequence, position, index).
#include "dssim/reference/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "dssim/kernels/elementwise.h"
#include "dssim/kernels/math.h"

namespace dssim::reference {

namespace {

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

}  // namespace

double sampling_uniform(uint64_t seed, int64_t sequence, int64_t position, int64_t index) {
    uint64_t key = mix64(seed + kGolden);
    key = mix64(key ^ (static_cast<uint64_t>(sequence) + kGolden));
    key = mix64(key ^ (static_cast<uint64_t>(position) + kGolden));
    const uint64_t draw = mix64(key + (static_cast<uint64_t>(index) + 1) * kGolden);
    return static_cast<double>(draw >> 11) * 0x1.0p-53;
}

int64_t argmax(const float* values, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; ++i) {
        const float b = values[best], v = values[i];
        if (std::isnan(b)) break;
        if (std::isnan(v) || v > b) best = i;
    }
    return static_cast<int64_t>(best);
}

int64_t sample_token(const float* logits,
                     size_t vocab,
                     double temperature,
                     uint64_t seed,
                     int64_t sequence,
                     int64_t position) {
    if (!(temperature > 0.0)) return argmax(logits, vocab);
    const float t = static_cast<float>(std::max(temperature, 1e-5));
    std::vector<float> p(vocab);
    for (size_t v = 0; v < vocab; ++v)
        p[v] = logits[v] / t;
    kernels::softmax(p.data(), p.data(), 1, vocab, 1);
    size_t best = 0;
    double best_q = -1.0;
    for (size_t v = 0; v < vocab; ++v) {
        // q = p / E with E ~ Exp(1); E = 0 (u = 0) gives +inf, a zero probability never wins.
        double q = 0.0;
        if (p[v] > 0.0f) {
            // 1 - u is exact (u has 53 bits); log_f64 is libm-independent (kernels/math.h).
            const double u = sampling_uniform(seed, sequence, position, static_cast<int64_t>(v));
            const double e = -kernels::log_f64(1.0 - u);
            q = e > 0.0 ? static_cast<double>(p[v]) / e : std::numeric_limits<double>::infinity();
        }
        if (q > best_q) {
            best_q = q;
            best = v;
        }
    }
    return static_cast<int64_t>(best);
}

}  // namespace dssim::reference
