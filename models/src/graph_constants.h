// Private to models/: the element sizes and tile width the op graph builder and models/parallel
// both compute bytes with (one definition, so a cost and its per-device share agree).
#pragma once

#include <cstdint>

namespace dssim::models::detail {

// Bytes per element of the activation dtype (BF16 everywhere between ops, as in the demo).
inline constexpr double kAct = 2.0;
// Gradients accumulate and are synchronised in FP32 (V3 tech report).
inline constexpr double kGradBytes = 4.0;
// FP8 activation tiles: one FP32 scale per 1x128 elements.
inline constexpr int64_t kActTile = 128;

inline int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

}  // namespace dssim::models::detail
