// Naive twins of the optimised kernels: the same arithmetic written as the plainest loops,
// single-threaded, no blocking, no SIMD. The unit tests require the optimised kernels to agree
// with these bit for bit; they are also the readable statement of what each kernel computes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dssim/kernels/elementwise.h"
#include "dssim/kernels/gemm.h"
#include "dssim/kernels/quant.h"
#include "dssim/kernels/rope.h"
#include "dssim/kernels/select.h"

namespace dssim::kernels::naive {

void gemm(const void* x,
          DType x_type,
          const void* w,
          DType w_type,
          void* y,
          DType y_type,
          size_t m,
          size_t n,
          size_t k);

void fp8_gemm(const uint8_t* xq,
              const float* x_scale,
              const uint8_t* wq,
              const float* w_scale,
              void* y,
              DType y_type,
              size_t m,
              size_t n,
              size_t k,
              Fp8Promotion promotion = Fp8Promotion::ScaleProductFirst);

void act_quant(
    const float* x, uint8_t* q, float* scales, size_t rows, size_t cols, ScaleFormat format);
void weight_dequant(const uint8_t* wq, const float* scale, uint16_t* out, size_t n, size_t k);

// interleave_e4m3 (gemm.h) by its formula, one code at a time.
void interleave_e4m3(const uint8_t* wq, size_t n, size_t k, uint8_t* out);

void rms_norm(const float* x,
              const uint16_t* weight,
              uint16_t* y,
              size_t rows,
              size_t dim,
              float eps,
              RmsNormVariant variant);
void softmax(const float* x, float* y, size_t rows, size_t cols);
void silu(const uint16_t* x, uint16_t* y, size_t n);
void swiglu(const uint16_t* a, const uint16_t* b, uint16_t* y, size_t n, SwigluVariant variant);
void moe_weighted_sum(const uint16_t* expert_out,
                      const uint16_t* weights,
                      const int32_t* idx,
                      uint16_t* y,
                      size_t tokens,
                      size_t k,
                      size_t dim);

// Recomputes the frequencies and the angle per element, no table.
void apply_rope(uint16_t* x,
                const int64_t* positions,
                size_t tokens,
                size_t heads,
                size_t token_stride,
                size_t head_stride,
                size_t rope_dim,
                const RopeConfig& config);

// Full stable sort of (value desc, index asc) per row, then the first k.
void topk(const float* scores, size_t rows, size_t cols, size_t k, int64_t* indices, float* values);

}  // namespace dssim::kernels::naive
