// Greedy argmax ties and the statistics of the seeded exponential-race sampler.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "dssim/reference/sampling.h"

namespace dssim::reference {
namespace {

TEST_CASE("argmax: lower index on ties, NaN first") {
    const float a[] = {1.0f, 3.0f, 3.0f, -2.0f};
    CHECK(argmax(a, 4) == 1);
    const float b[] = {1.0f, std::numeric_limits<float>::quiet_NaN(), 5.0f};
    CHECK(argmax(b, 3) == 1);
    CHECK(sample_token(a, 4, 0.0, 7, 0, 0) == 1);
}

TEST_CASE("sampling follows softmax(logits / T) and is a pure function of its key") {
    // p = softmax([0, ln 3, -inf-ish]) = [0.25, 0.75, ~0] at T = 1; at T = 0.5 p1 = 0.9.
    const float logits[] = {0.0f, std::log(3.0f), -60.0f};
    for (double t : {1.0, 0.5}) {
        const double p1 = t == 1.0 ? 0.75 : 0.9;
        int ones = 0, twos = 0;
        const int n = 4000;
        for (int i = 0; i < n; ++i) {
            const int64_t s = sample_token(logits, 3, t, 42, 0, i);
            CHECK(s == sample_token(logits, 3, t, 42, 0, i));
            ones += s == 1;
            twos += s == 2;
        }
        // 4000 draws: standard deviation of the frequency <= 0.007; allow 4 sigma.
        CHECK(std::fabs(static_cast<double>(ones) / n - p1) < 0.03);
        CHECK(twos == 0);
    }
    // Different sequences and seeds give different streams.
    int diff = 0;
    for (int i = 0; i < 64; ++i)
        diff += sampling_uniform(1, 0, i, 0) != sampling_uniform(1, 1, i, 0);
    CHECK(diff == 64);
    for (int i = 0; i < 1000; ++i) {
        const double u = sampling_uniform(9, 2, 3, i);
        CHECK(u >= 0.0);
        CHECK(u < 1.0);
    }
}

}  // namespace
}  // namespace dssim::reference
