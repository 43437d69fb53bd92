// Naive twins of the optimised kernels (see dssim/kernels/naive.h): the arithmetic of
// docs/numerics.md written as the plainest loops. Do not optimise this file; its value is that
// it is obviously the specification.
#include "dssim/kernels/naive.h"

#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/numerics/formats.h"

namespace dssim::kernels::naive {
namespace {

using numerics::bf16_from_f32;
using numerics::f32_from_bf16;
using numerics::f32_from_e4m3;

float load(const void* p, DType type, size_t i) {
    if (type == DType::F32) return static_cast<const float*>(p)[i];
    if (type == DType::BF16) return f32_from_bf16(static_cast<const uint16_t*>(p)[i]);
    throw_input_error("", "naive::gemm", "unsupported dtype " + std::string(dtype_name(type)));
}

void store(void* p, DType type, size_t i, float v) {
    if (std::isnan(v)) v = std::bit_cast<float>(0x7FC00000u);  // canonical NaN
    if (type == DType::F32) {
        static_cast<float*>(p)[i] = v;
    } else if (type == DType::BF16) {
        static_cast<uint16_t*>(p)[i] = bf16_from_f32(v);
    } else {
        throw_input_error("", "naive::gemm", "unsupported dtype " + std::string(dtype_name(type)));
    }
}

}  // namespace

void gemm(const void* x,
          DType x_type,
          const void* w,
          DType w_type,
          void* y,
          DType y_type,
          size_t m,
          size_t n,
          size_t k) {
    for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (size_t p = 0; p < k; ++p) {
                acc = acc + load(x, x_type, i * k + p) * load(w, w_type, j * k + p);
            }
            store(y, y_type, i * n + j, acc);
        }
    }
}

void fp8_gemm(const uint8_t* xq,
              const float* x_scale,
              const uint8_t* wq,
              const float* w_scale,
              void* y,
              DType y_type,
              size_t m,
              size_t n,
              size_t k,
              Fp8Promotion promotion) {
    const size_t kb = ceil_div(k, kFp8Block);
    for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (size_t b = 0; b < kb; ++b) {
                float partial = 0.0f;
                for (size_t p = b * kFp8Block; p < std::min(k, (b + 1) * kFp8Block); ++p) {
                    partial = partial + f32_from_e4m3(xq[i * k + p]) * f32_from_e4m3(wq[j * k + p]);
                }
                const float a_s = x_scale[i * kb + b];
                const float b_s = w_scale[(j / kFp8Block) * kb + b];
                if (promotion == Fp8Promotion::ScaleProductFirst) {
                    const float s = a_s * b_s;
                    acc = acc + partial * s;
                } else if (promotion == Fp8Promotion::ScaleProductFirstFma) {
                    const float s = a_s * b_s;
                    acc = std::fma(s, partial, acc);
                } else {
                    const float t = partial * a_s;
                    acc = acc + t * b_s;
                }
            }
            store(y, y_type, i * n + j, acc);
        }
    }
}

}  // namespace dssim::kernels::naive
