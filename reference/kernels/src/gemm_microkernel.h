// Internal interface between the GEMM driver (gemm.cpp) and its SIMD kernels. Each kernel set is
// compiled in its own translation unit for one instruction set (baseline SSE2, AVX2 or AVX-512,
// never FMA contraction); every kernel computes each output as the scalar sequence acc = acc + a*b
// (one rounded product, one rounded sum), so all sets give identical bits and only speed differs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dssim::kernels::detail {

// Computes an mr x nr tile over kc steps of K:
//   for p in 0..kc-1 (ascending): c[i][j] = c[i][j] + a[p*mr + i] * b[p*nr + j]
// c starts from +0.0f (accumulate == false) or from the values in c (accumulate == true), so a
// K range split into consecutive calls is the same sequential reduction. a and b are packed
// panels; c is row-major with leading dimension ldc.
using MicroKernelFn =
    void (*)(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate);

struct MicroKernel {
    size_t mr;
    size_t nr;
    MicroKernelFn fn;
    const char* name;
};

// Packs a full 32-row panel of BF16 rows (rows[i] = row i's first element of the block) over kc
// columns as FP32: dst[p * 32 + i] = f32(rows[i][p]) (pack_panels' layout). Exact, so any
// implementation gives the same panel.
using PackBf16Panel32Fn = void (*)(const uint16_t* const* rows, size_t kc, float* dst);
PackBf16Panel32Fn pack_bf16_panel32_avx512();

MicroKernel microkernel_baseline();
MicroKernel microkernel_avx2();
MicroKernel microkernel_avx512();

// ---- Small-M (decode) kernels: no packing, W rows are read where they lie. ----

// Rows of W handled by one small-M kernel call (one output column each): 32, so that at M = 1
// the AVX2 kernel on decoded (L1-resident) rows has four independent accumulator chains.
inline constexpr size_t kGemvRows = 32;
// Rows of x per small-M kernel call (the kernel tables below are indexed by mr - 1).
inline constexpr size_t kGemvMaxMr = 4;

// For the kGemvRows rows w[0..31] (each pointing at its first K element of the chunk) and mr
// rows of x (row i at x + i*ldx, FP32):
//   for p in 0..kc-1 (ascending): acc[i*32 + j] = acc[i*32 + j] + x[i*ldx + p] * f32(w[j][p])
// acc holds FP32 running sums [mr, 32] carried between calls, so a K range split into
// consecutive calls is the same sequential reduction. Lanes are outputs j, never K.
using GemvF32Fn =
    void (*)(const float* const* w, const float* x, size_t ldx, size_t kc, float* acc);
using GemvBf16Fn =
    void (*)(const uint16_t* const* w, const float* x, size_t ldx, size_t kc, float* acc);

// Everything needed to turn E4M3 weight bytes sharing one FP32 block scale s into BF16 bits
// bf16(f32(q) * s) (weight_dequant's value; s = 1 gives f32(q) exactly). Prepared by the driver.
struct E4m3Decoder {
    float scale;
    const float* e4m3_f32;  // [256] exact FP32 value of every E4M3 code
    // Fast path (valid when 2^-100 <= |s| <= 2^100, so every product is a normal number and
    // scaling by a power of two commutes with both roundings): a code q with sign bit g,
    // exponent field e = 2*eh + e0 in 1..15 and mantissa m (not NaN) has the result bits
    //   (lut[(e0 << 3) | m] + (eh << 8)) ^ (g << 15)
    // where lut[(e0 << 3) | m] = bits(bf16(f32(s * 2^e0 * (1 + m/8)))) - (7 << 7). Adding eh << 8
    // changes only the high byte, so the decoder works on low and high bytes separately.
    // Codes with e == 0 (zero, subnormal) or NaN take the scalar formula.
    bool fast;
    alignas(16) uint8_t lut_lo[16];  // low bytes of lut
    alignas(16) uint8_t lut_hi[16];  // high bytes of lut
};
// out[i] = bits of bf16(f32(q[i]) * s.scale), i < len, where s = d[(i / 128) * d_step] (one
// decoder per 128-wide scale block from q, or d_step = 0 for one decoder throughout). Any NaN
// result is written as 0x7FC0.
inline constexpr size_t kDecodeBlock = 128;
using DecodeE4m3Fn =
    void (*)(const uint8_t* q, size_t len, const E4m3Decoder* d, size_t d_step, uint16_t* out);

struct GemvKernels {
    GemvF32Fn f32[kGemvMaxMr];       // index mr - 1
    GemvBf16Fn bf16[kGemvMaxMr];     // index mr - 1; W rows streamed from memory
    GemvBf16Fn bf16_l1[kGemvMaxMr];  // the same sums for W rows in an L1-resident buffer
    DecodeE4m3Fn decode_e4m3;
    const char* name;
};

GemvKernels gemv_kernels_baseline();
GemvKernels gemv_kernels_avx2();

// ---- Fused E4M3 small-M kernels (AVX-512): decode in the transposed lanes, no BF16 buffer. ----

// Rows of W per fused call (one 512-bit vector of FP32 outputs) and the most rows of x per call.
inline constexpr size_t kE4m3FusedRows = 16;
inline constexpr size_t kE4m3FusedMaxMr = 16;
// A decode table serves one 128-deep K block (one block scale): bf16(f32(q) * s) for the 128
// magnitudes q = 0..127, low bytes [0, 128) then high bytes [128, 256), 64-byte aligned. The
// sign bit of a code flips the sign of its entry (exact for every scale).
inline constexpr size_t kE4m3TableBlock = 128;
inline constexpr size_t kE4m3TableBytes = 256;

// For the 16 or 32 rows w[0..rows-1] (each pointing at its first code of the call; rows of a
// ragged block may repeat) and mr rows of x (row i at x + i*ldx, FP32):
//   for p in 0..kc-1 (ascending):
//     acc[i*ldacc + j] = acc[i*ldacc + j] + x[i*ldx + p] * f32(T_p(w[j][p]))
// where T_p is the table at tables + (p / 128) * table_step (table_step 0: one table).
using GemvE4m3Fn = void (*)(const uint8_t* const* w,
                            size_t kc,
                            const float* x,
                            size_t ldx,
                            const uint8_t* tables,
                            size_t table_step,
                            float* acc,
                            size_t ldacc);
// out[s * 256 ..] = the table of scales[s], s < count; e4m3_f32 is the [256] FP32 value table.
using BuildE4m3TablesFn = void (*)(const float* scales,
                                   size_t count,
                                   const float* e4m3_f32,
                                   uint8_t* out);

// The same sums on the interleaved layout (gemm.h, E4m3Weight): rows / 16 blocks of 16 rows, block
// b's codes of the call's first k at w + b * block_stride.
using GemvE4m3IlFn = void (*)(const uint8_t* w,
                              size_t block_stride,
                              size_t kc,
                              const float* x,
                              size_t ldx,
                              const uint8_t* tables,
                              size_t table_step,
                              float* acc,
                              size_t ldacc);
// Writes the interleaved block of the 16 rows w[0..15] (k codes each; zero codes pad k to a
// multiple of 16) to out (16 * round_up(k, 16) bytes).
using InterleaveRowsFn = void (*)(const uint8_t* const* w, size_t k, uint8_t* out);

struct E4m3FusedKernels {
    struct Entry {
        GemvE4m3Fn fn;
        size_t rows;  // rows of W per call (16 or 32): w[0 .. rows-1], acc lanes [0, rows)
    };
    struct IlEntry {
        GemvE4m3IlFn fn;
        size_t rows;  // rows of W per call (16 or 32): acc lanes [0, rows)
    };
    Entry gemv[kE4m3FusedMaxMr];           // index mr - 1
    IlEntry gemv_il[kE4m3FusedMaxMr];      // index mr - 1
    IlEntry gemv_il_one[kE4m3FusedMaxMr];  // one 16-row block per call (ragged ends)
    BuildE4m3TablesFn build_tables;
    InterleaveRowsFn interleave_rows;
    const char* name;
};

E4m3FusedKernels e4m3_fused_kernels_avx512();

// ---- Batch exp (AVX-512): y[i] = exp_f32(x[i]) with the scalar function's bits. ----

using ExpF32BatchFn = void (*)(const float* x, float* y, size_t n);
ExpF32BatchFn exp_f32_batch_avx512();
// The batch exp for the calling thread's SimdPath setting (math.cpp): the AVX-512 one when
// avx512_active(), else a loop over exp_f32. Resolve it on the calling thread and hand it to
// worker threads (the setting is per thread).
ExpF32BatchFn select_exp_batch();
// Whether the calling thread's SimdPath setting resolves to AVX-512 on this CPU (gemm.cpp).
bool avx512_active();

}  // namespace dssim::kernels::detail
