// Token selection: greedy argmax and seeded sampling with temperature using a counter-based
// RNG, so a sampled token depends only on (seed, sequence, position, logits) and never on
// thread count, batch composition or speculative decoding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dssim::reference {

// Index of the largest value; ties and equal values go to the lower index; NaN ranks above
// every number (first NaN wins).
int64_t argmax(const float* values, size_t n);

// The demo's exponential race: probs = softmax(logits / max(T, 1e-5)) in FP32, then
// argmax(probs / E_v) with E_v = -ln(1 - u_v), u_v = uniform in [0, 1) with 53 bits from
// SplitMix64 keyed by (seed, sequence, position, v) (docs/reference-runtime.md, "Sampling").
// temperature <= 0 is greedy argmax(logits). `position` is the position of the token being
// predicted's input row (the row whose logits these are).
int64_t sample_token(const float* logits,
                     size_t vocab,
                     double temperature,
                     uint64_t seed,
                     int64_t sequence,
                     int64_t position);

// The uniform draw u in [0, 1) used above (exposed for tests and re-implementations).
double sampling_uniform(uint64_t seed, int64_t sequence, int64_t position, int64_t index);

}  // namespace dssim::reference
