// Matrix products of the reference runtime: the BF16/FP32 linear layer and the FP8
// block-scaled GEMM of DeepSeek's fp8 path.
//
// Layout is PyTorch's F.linear: y[M,N] = x[M,K] . w[N,K]^T, all row-major and dense.
// Every output element is reduced by one thread in the order written in docs/numerics.md
// ("Kernels"), so results are bit-identical for any thread count and for the SIMD and scalar
// paths. Parallelism splits outputs (rows and column tiles) only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dssim/numerics/formats.h"

namespace dssim::kernels {

using numerics::DType;

// y[m, n] = sum_{k=0..K-1} x[m, k] * w[n, k], strictly sequential in k:
//   acc = +0.0f; for k in 0..K-1: acc = acc + f32(x[m,k]) * f32(w[n,k])   (two roundings, no FMA)
// x_type/w_type: F32 (float) or BF16 (uint16_t bits); y_type: F32 or BF16 (one RNE at the end).
// NaN results are written as the canonical quiet NaN (+, 0x7FC00000) so the bytes never depend
// on which operand the hardware propagated. Throws InputError for unsupported dtypes.
void gemm(const void* x,  // [M, K]
          DType x_type,
          const void* w,  // [N, K]
          DType w_type,
          void* y,  // [M, N]
          DType y_type,
          size_t m,
          size_t n,
          size_t k,
          int threads);

// Typed shorthands of gemm().
void gemm_f32(const float* x, const float* w, float* y, size_t m, size_t n, size_t k, int threads);
void gemm_bf16(const uint16_t* x,  // [M, K] BF16
               const uint16_t* w,  // [N, K] BF16
               uint16_t* y,        // [M, N] BF16
               size_t m,
               size_t n,
               size_t k,
               int threads);

// Block size of DeepSeek's FP8 scaling: activations 1x128, weights 128x128.
inline constexpr size_t kFp8Block = 128;
inline constexpr size_t ceil_div(size_t a, size_t b) {
    return (a + b - 1) / b;
}

// The demo's default FP8 linear (gemm_impl = "bf16"): y = x . W^T with W = weight_dequant(wq,
// w_scale), i.e. W[n,k] = bf16(f32(wq[n,k]) * w_scale[n/128, k/128]). The BF16 weight is formed
// while packing (large M) or while decoding the codes (small M) and never materialised; the bits
// equal weight_dequant() followed by gemm() with w_type BF16. wq [N, K] E4M3, w_scale [ceil(N/128),
// ceil(K/128)] FP32.
void gemm_dequant(const void* x,  // [M, K]
                  DType x_type,
                  const uint8_t* wq,
                  const float* w_scale,
                  void* y,  // [M, N]
                  DType y_type,
                  size_t m,
                  size_t n,
                  size_t k,
                  int threads);

// How the FP32 partial dot of one 128-deep K block is promoted into the running accumulator.
enum class Fp8Promotion : uint8_t {
    // DeepGEMM's order: acc = acc + partial * (a_s * b_s), three separate FP32 roundings
    // (scale product, multiply, add). The default.
    ScaleProductFirst,
    // DeepGEMM's actual FFMA: acc = fmaf(a_s * b_s, partial, acc) (scale product rounded, then
    // one fused multiply-add, i.e. one rounding). Uses std::fma, correctly rounded everywhere.
    ScaleProductFirstFma,
    // The official Triton demo (kernel.py fp8_gemm): acc = acc + ((partial * a_s) * b_s).
    TritonSequential,
};

// FP8 block-scaled GEMM, y[M,N] = x[M,K] . w[N,K]^T with
//   xq [M, K] E4M3 bytes, x_scale [M, ceil(K/128)] FP32   (act_quant output)
//   wq [N, K] E4M3 bytes, w_scale [ceil(N/128), ceil(K/128)] FP32 (checkpoint weight_scale_inv)
// For each 128-deep K block b (the last may be shorter):
//   partial = +0.0f; for k in block b ascending: partial = partial + f32(xq) * f32(wq)
//   then promote with `promotion` using a_s = x_scale[m, b], b_s = w_scale[n/128, b].
// acc starts at +0.0f; blocks are promoted in ascending b. Output y_type F32 or BF16 (RNE).
void fp8_gemm(const uint8_t* xq,
              const float* x_scale,
              const uint8_t* wq,
              const float* w_scale,
              void* y,
              DType y_type,
              size_t m,
              size_t n,
              size_t k,
              int threads,
              Fp8Promotion promotion = Fp8Promotion::ScaleProductFirst);

// ---- Interleaved E4M3 weights ----
// The fused AVX-512 kernels read 16 rows of a weight at a time. From the plain layout those are 16
// row streams that they transpose in registers; the interleaved layout stores the codes in the
// transposed order, so the kernels read one sequential stream per 16 rows and skip the
// transposition (bench/README.md, "Interleaved E4M3 weights"). Results are bit-identical to the
// plain layout. For a weight [N, K] with Kp = K rounded up to a multiple of 16, 16-row block b
// (rows 16b .. 16b + 15) occupies bytes [16 Kp b, 16 Kp (b + 1)), and the code of row 16b + r,
// column k lies at offset
//   16 (k - k % 4) + 16 (r / 4) + 8 ((k % 4) / 2) + 2 (r % 4) + k % 2
// within it; rows past N and columns past K hold zero codes (never used).
size_t e4m3_interleaved_bytes(size_t n, size_t k);
// Writes the interleaved layout of wq [N, K] to out (e4m3_interleaved_bytes(n, k) bytes).
void interleave_e4m3(const uint8_t* wq, size_t n, size_t k, uint8_t* out, int threads);
// Whether gemm_dequant and fp8_gemm read an E4m3Weight's interleaved copy on this thread (the
// AVX-512 path is active); other paths read its plain codes.
bool e4m3_interleaved_active();

// An E4M3 weight [N, K]: the plain codes (always required) and optionally the same codes
// interleaved (interleave_e4m3), which the AVX-512 path reads instead.
struct E4m3Weight {
    const uint8_t* codes = nullptr;
    const uint8_t* interleaved = nullptr;
};
void gemm_dequant(const void* x,  // [M, K]
                  DType x_type,
                  E4m3Weight wq,
                  const float* w_scale,
                  void* y,  // [M, N]
                  DType y_type,
                  size_t m,
                  size_t n,
                  size_t k,
                  int threads);
void fp8_gemm(const uint8_t* xq,
              const float* x_scale,
              E4m3Weight wq,
              const float* w_scale,
              void* y,
              DType y_type,
              size_t m,
              size_t n,
              size_t k,
              int threads,
              Fp8Promotion promotion = Fp8Promotion::ScaleProductFirst);

// gemm, gemm_dequant and fp8_gemm with M <= kGemmSmallMMax (decode) take an unpacked path that
// streams each weight row once; larger M uses the cache-blocked path. The exception is an E4M3
// weight (gemm_dequant, fp8_gemm) on the AVX-512 path: its fused kernels decode the codes in
// registers and beat the blocked path (which dequantises into packed FP32 panels) at every M
// measured, 1 to 512, so they take every M, 16 rows of x at a time. All paths give identical bits
// (tested); the limits are measured speed crossovers (bench/README.md).
inline constexpr size_t kGemmSmallMMax = 16;
// On the AVX-512 path a BF16 weight takes the small-M path only up to this M: there the blocked
// path packs BF16 panels with in-register transposes, which made it faster from M = 8 (measured
// crossover, bench/README.md).
inline constexpr size_t kGemmSmallMMaxBf16Avx512 = 4;
// The default of set_gemm_small_m_max: the rule above.
inline constexpr size_t kGemmSmallMAuto = SIZE_MAX;
// Sets the small-M limit for subsequent calls on this thread, for every weight type (returns the
// previous setting); for tests and benchmarks that compare the paths on one shape (0 = blocked
// path always, kGemmSmallMAuto = the default rule).
size_t set_gemm_small_m_max(size_t m_max);

// Which SIMD path gemm()/gemm_dequant()/fp8_gemm() use. All paths give identical bits (tested);
// this exists for tests and benchmarks. Auto picks the widest the CPU has: Avx512 (AVX-512 F, BW,
// VL and VBMI: the fused E4M3 small-M kernels, the rest as Avx2), else Avx2, else Baseline (SSE2).
enum class SimdPath : uint8_t { Auto, Baseline, Avx2, Avx512 };
// Sets the path for subsequent calls on this thread (returns the previous setting). A path the
// CPU lacks falls back to the next narrower one (Avx512 -> Avx2 -> Baseline).
SimdPath set_simd_path(SimdPath path);
// Name of the path this thread's setting resolves to on this machine ("avx512", "avx2" or
// "sse2"; with the default Auto, the widest available).
const char* active_simd_path_name();

}  // namespace dssim::kernels
