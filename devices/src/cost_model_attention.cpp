// Attention cost (MLA prefill and decode): FLOPs of the score and value matmuls over the
// causally attended (query, key) pairs, bytes of the KV cache plus queries and outputs.
#include <cmath>

#include "dssim/base/error.h"
#include "dssim/devices/cost_model.h"

namespace dssim::devices {

OpCost CostModel::attention_time(const AttentionWork& w) const {
    if (w.batch < 0 || w.q_len <= 0 || w.kv_len < w.q_len || w.heads <= 0 || w.qk_head_dim <= 0 ||
        w.v_head_dim <= 0 || !(w.kv_bytes_per_token >= 0)) {
        throw InputError(
            "attention: needs batch >= 0, q_len > 0, kv_len >= q_len, heads > 0, "
            "head dims > 0, kv_bytes_per_token >= 0 (got batch=" +
            std::to_string(w.batch) + " q_len=" + std::to_string(w.q_len) +
            " kv_len=" + std::to_string(w.kv_len) + ")");
    }
    double b = static_cast<double>(w.batch);
    double q = static_cast<double>(w.q_len);
    double kv = static_cast<double>(w.kv_len);
    double prefix = kv - q;
    // Query i of the new tokens sees the prefix and the new tokens up to itself.
    double pairs = w.causal ? q * prefix + q * (q + 1.0) / 2.0 : q * kv;
    double flops = 2.0 * b * static_cast<double>(w.heads) * pairs *
                   static_cast<double>(w.qk_head_dim + w.v_head_dim);
    Precision exec = execution_precision(w.dtype);
    // The KV cache is read once per sequence (MLA's latent cache is shared by all heads);
    // queries are read in the matmul precision and outputs written in BF16.
    double bytes = b * kv * w.kv_bytes_per_token +
                   b * q * static_cast<double>(w.heads) *
                       (static_cast<double>(w.qk_head_dim) * precision_bytes(exec) +
                        static_cast<double>(w.v_head_dim) * 2.0);
    CurveInputs in;
    in.m = b * q * static_cast<double>(w.heads);
    in.k = kv;
    in.bytes = bytes;
    in.arithmetic_intensity = bytes > 0 ? flops / bytes : 0.0;
    const OpCalibration& cal = w.phase == AttentionPhase::Decode ? calibration_.attention_decode
                                                                 : calibration_.attention_prefill;
    return roofline(flops, bytes, exec, cal, in, {});
}

}  // namespace dssim::devices
