// The MoE router exactly as DeepSeek's demo computes it (class Gate in inference/model.py),
// with torch.topk's unspecified tie order pinned to "lower index first".
#include "dssim/reference/gate.h"

#include <cmath>
#include <limits>
#include <vector>

#include "dssim/base/parallel.h"
#include "dssim/kernels/elementwise.h"
#include "dssim/kernels/math.h"
#include "dssim/kernels/select.h"
#include "dssim/numerics/formats.h"

namespace dssim::reference {

using numerics::bf16_from_f32;
using numerics::f32_from_bf16;

void moe_gate(const models::Routing& routing,
              const uint16_t* logits,
              const float* bias,
              size_t tokens,
              uint16_t* weights,
              int32_t* indices,
              int threads) {
    const auto ne = static_cast<size_t>(routing.experts);
    const auto k = static_cast<size_t>(routing.top_k);
    const auto groups = static_cast<size_t>(routing.groups);
    const auto keep_groups = static_cast<size_t>(routing.groups_kept);
    const size_t per_group = ne / groups;
    // The demo renormalises sigmoid scores only, whatever norm_topk_prob says (gate.h).
    const bool sigmoid = routing.score == models::ScoreFunc::Sigmoid;
    const float route_scale = static_cast<float>(routing.scaling);
    parallel_for(tokens, threads, [&](size_t t0, size_t t1) {
        std::vector<float> orig(ne), sel(ne), gscore(groups), top(k);
        std::vector<int64_t> gidx(keep_groups), eidx(k), two(2);
        std::vector<float> twov(2);
        for (size_t t = t0; t < t1; ++t) {
            const uint16_t* row = logits + t * ne;
            // original_scores: BF16 sigmoid of the BF16 logits, or FP32 softmax.
            if (sigmoid) {
                for (size_t e = 0; e < ne; ++e) {
                    const float v = f32_from_bf16(row[e]);
                    orig[e] = f32_from_bf16(bf16_from_f32(1.0f / (1.0f + kernels::exp_f32(-v))));
                }
            } else {
                for (size_t e = 0; e < ne; ++e)
                    sel[e] = f32_from_bf16(row[e]);
                kernels::softmax(sel.data(), orig.data(), 1, ne, 1);
            }
            // Selection scores: + bias (FP32) when the model has one.
            for (size_t e = 0; e < ne; ++e)
                sel[e] = bias ? orig[e] + bias[e] : orig[e];
            if (groups > 1) {
                for (size_t g = 0; g < groups; ++g) {
                    const float* gs = sel.data() + g * per_group;
                    if (bias != nullptr && per_group >= 2) {
                        // Sum of the group's two best scores (topk(2).sum: best + second).
                        kernels::topk(gs, 1, per_group, 2, two.data(), twov.data(), 1);
                        gscore[g] = twov[0] + twov[1];
                    } else {
                        kernels::topk(gs, 1, per_group, 1, two.data(), twov.data(), 1);
                        gscore[g] = twov[0];
                    }
                }
                kernels::topk(gscore.data(), 1, groups, keep_groups, gidx.data(), nullptr, 1);
                std::vector<bool> keep(groups, false);
                for (int64_t g : gidx)
                    keep[static_cast<size_t>(g)] = true;
                for (size_t g = 0; g < groups; ++g) {
                    if (keep[g]) continue;
                    for (size_t e = 0; e < per_group; ++e) {
                        sel[g * per_group + e] = -std::numeric_limits<float>::infinity();
                    }
                }
            }
            kernels::topk(sel.data(), 1, ne, k, eidx.data(), nullptr, 1);
            uint16_t* w = weights + t * k;
            for (size_t j = 0; j < k; ++j) {
                indices[t * k + j] = static_cast<int32_t>(eidx[j]);
                top[j] = orig[static_cast<size_t>(eidx[j])];
            }
            if (sigmoid) {
                // BF16 tensor arithmetic: sum (FP32 accumulation in selection order, one
                // rounding), divide, scale, each rounded to BF16.
                float sum = 0.0f;
                for (size_t j = 0; j < k; ++j)
                    sum = sum + top[j];
                const float sum_b = f32_from_bf16(bf16_from_f32(sum));
                for (size_t j = 0; j < k; ++j) {
                    const float q = f32_from_bf16(bf16_from_f32(top[j] / sum_b));
                    w[j] = bf16_from_f32(q * route_scale);
                }
            } else {
                // FP32 weights times route_scale, then .type_as(x).
                for (size_t j = 0; j < k; ++j)
                    w[j] = bf16_from_f32(top[j] * route_scale);
            }
        }
    });
}

}  // namespace dssim::reference
