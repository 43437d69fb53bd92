// AVX-512 kernels (compiled with -mavx512f/bw/vl/vbmi, no FMA contraction), selected at run time
// only on CPUs that report those features: the blocked path's 8 x 32 micro-kernel (the shared
// template, 16-lane vectors) and the fused E4M3 GEMV of gemm_dequant and fp8_gemm. It reads 16 rows
// of E4M3 codes, transposes the bytes in registers so that each 32-bit lane is one row (one output)
// at one k, decodes them there with two 128-entry byte table lookups per scale (vpermi2b, exact for
// every code and every scale, because the tables hold bf16(f32(q) * s) computed by the scalar
// formula for each magnitude q) and accumulates acc = acc + w * x lane by lane in strictly
// ascending k. A variant reads the same codes from the interleaved layout (gemm.h), which stores
// them in the transposed order, instead of transposing 16 row streams. No BF16 copy of the weight
// is written. Only intrinsics and builtins are used here:
// inline code from a shared header compiled with AVX-512 could be picked by the linker for baseline
// callers.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

// GCC 12's AVX-512 intrinsics initialise their "undefined" operands from themselves, which
// -Wmaybe-uninitialized reports at every use (a known false positive of those headers).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "gemm_microkernel.h"

namespace dssim::kernels::detail {
namespace {

typedef float V16 __attribute__((vector_size(64)));

#include "gemm_microkernel.inc"

// The blocked path's register tile: 8 rows of A x 32 columns of B (16 accumulators of 16 lanes).
constexpr int kMr = 8;
constexpr int kNv = 2;

void micro_kernel(
    size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
    micro_kernel_tile<kMr, kNv, V16>(kc, a, b, c, ldc, accumulate);
}

// How far ahead in each row the codes are prefetched (bytes; measured).
constexpr size_t kPrefetchAhead = 1024;
// Prefetches go to L2, not L1: on Zen 4 (AVX-512 split into two 256-bit halves, so the kernel is
// nearer its arithmetic limit) M = 1 from memory ran 19-21 GB/s with L1 prefetches and 27-29 with
// L2 ones on the interleaved layout (2 threads, 2048 x 7168; wo's shape 22.7 -> 30.5), 22-24 ->
// 24-25 on the plain one; on Zen 5 the two hints measured the same (bench/README.md).
constexpr _mm_hint kPrefetchHint = _MM_HINT_T1;

// Decode state shared by the row blocks of one 64-deep step: the step's table (low bytes in
// tlo0/tlo1, high bytes in thi0/thi1, 64 magnitudes each) and two masks.
struct StepTables {
    __m512i tlo0, tlo1, thi0, thi1, sign, hi_mask;
};

// 128-bit lane l: the 16 codes of row 4l + c from ps (Tail: the first nk, the rest zero).
template <bool Tail>
__attribute__((always_inline)) inline __m512i load_lanes(const uint8_t* const* w,
                                                         int c,
                                                         size_t ps,
                                                         size_t nk) {
    auto piece = [&](int l) {
        const uint8_t* src = w[4 * l + c] + ps;
        if constexpr (Tail) {
            return _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << nk) - 1), src);
        } else {
            return _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
        }
    };
    return _mm512_inserti32x4(
        _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(piece(0)), piece(1), 1),
                           piece(2), 2),
        piece(3), 3);
}

// acc[i] = acc[i] + wv * x[i][k] for the MR rows of x.
template <int MR>
__attribute__((always_inline)) inline void madd(
    __m512 wv, const float* x, size_t ldx, size_t k, __m512* acc) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
        const __m512 xb = _mm512_set1_ps(x[static_cast<size_t>(i) * ldx + k]);
        acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(wv, xb));
    }
}

// Decodes q (the codes of k = ps + k0 .. ps + k0 + 3, lane l byte 8c + 2d + e = row 4l + d at
// ps + k0 + 2c + e) and accumulates those k in order (Tail: only k < ps + nk).
template <int MR, bool Tail>
__attribute__((always_inline)) inline void decode_madd(__m512i q,
                                                       size_t k0,
                                                       size_t ps,
                                                       size_t nk,
                                                       const float* x,
                                                       size_t ldx,
                                                       const StepTables& tb,
                                                       __m512* acc) {
    const __m512i lo = _mm512_permutex2var_epi8(tb.tlo0, q, tb.tlo1);
    const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(tb.thi0, q, tb.thi1), q,
                                                 tb.sign, 0x78);  // hi ^ (q & 0x80)
    const __m512i p01 = _mm512_unpacklo_epi8(lo, hi);
    madd<MR>(_mm512_castsi512_ps(_mm512_slli_epi32(p01, 16)), x, ldx, ps + k0, acc);
    if (Tail && nk <= k0 + 1) return;
    madd<MR>(_mm512_castsi512_ps(_mm512_and_si512(p01, tb.hi_mask)), x, ldx, ps + k0 + 1, acc);
    if (Tail && nk <= k0 + 2) return;
    const __m512i p23 = _mm512_unpackhi_epi8(lo, hi);
    madd<MR>(_mm512_castsi512_ps(_mm512_slli_epi32(p23, 16)), x, ldx, ps + k0 + 2, acc);
    if (Tail && nk <= k0 + 3) return;
    madd<MR>(_mm512_castsi512_ps(_mm512_and_si512(p23, tb.hi_mask)), x, ldx, ps + k0 + 3, acc);
}

// 16 consecutive k (ps .. ps + 15, of which nk are valid; Tail: fewer than 16 left, masked
// loads) of the 16 rows w[0..15], MR rows of x, accumulators acc[0..MR-1].
//
// Transposition: a[c] holds in its 128-bit lane l the 16 codes of row 4l + c (four 16-byte
// loads). Read as 16-bit words, each word is a pair of consecutive k of one row, so two in-lane
// unpack stages (16-bit, then 32-bit) give q[t], whose lane l byte 8c + 2d + e is the code of
// row 4l + d at k = ps + 4t + 2c + e. Decoding: two 128-entry byte lookups (vpermi2b) on the
// magnitude give the low and high BF16 bytes, the code's sign bit flips the high byte's (exact
// for any scale: f32(-q) * s = -(f32(q) * s)), and one unpack interleaves them into 32-bit lanes
// 4l + d holding row 4l + d's BF16 weights at two consecutive k; << 16 and & 0xFFFF0000 split
// them into FP32. So every lane is one row, and k advances by one per vector.
template <int MR, bool Tail>
__attribute__((always_inline)) inline void e4m3_sub(const uint8_t* const* w,
                                                    size_t ps,
                                                    size_t nk,
                                                    const float* x,
                                                    size_t ldx,
                                                    const StepTables& tb,
                                                    __m512* acc) {
    const __m512i a0 = load_lanes<Tail>(w, 0, ps, nk);
    const __m512i a1 = load_lanes<Tail>(w, 1, ps, nk);
    const __m512i a2 = load_lanes<Tail>(w, 2, ps, nk);
    const __m512i a3 = load_lanes<Tail>(w, 3, ps, nk);
    const __m512i u01lo = _mm512_unpacklo_epi16(a0, a1), u01hi = _mm512_unpackhi_epi16(a0, a1);
    const __m512i u23lo = _mm512_unpacklo_epi16(a2, a3), u23hi = _mm512_unpackhi_epi16(a2, a3);
    decode_madd<MR, Tail>(_mm512_unpacklo_epi32(u01lo, u23lo), 0, ps, nk, x, ldx, tb, acc);
    if (Tail && nk <= 4) return;
    decode_madd<MR, Tail>(_mm512_unpackhi_epi32(u01lo, u23lo), 4, ps, nk, x, ldx, tb, acc);
    if (Tail && nk <= 8) return;
    decode_madd<MR, Tail>(_mm512_unpacklo_epi32(u01hi, u23hi), 8, ps, nk, x, ldx, tb, acc);
    if (Tail && nk <= 12) return;
    decode_madd<MR, Tail>(_mm512_unpackhi_epi32(u01hi, u23hi), 12, ps, nk, x, ldx, tb, acc);
}

inline StepTables step_tables() {
    StepTables tb;
    tb.sign = _mm512_set1_epi8(static_cast<char>(0x80));
    tb.hi_mask = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    return tb;
}

inline void set_table(StepTables& tb, const uint8_t* table) {
    tb.tlo0 = _mm512_load_si512(table);
    tb.tlo1 = _mm512_load_si512(table + 64);
    tb.thi0 = _mm512_load_si512(table + 128);
    tb.thi1 = _mm512_load_si512(table + 192);
}

// The running sums of NB 16-row blocks for MR rows of x: a[b][i] <-> acc[i * ldacc + 16 b ..].
template <int MR, int NB>
__attribute__((always_inline)) inline void load_acc(const float* acc,
                                                    size_t ldacc,
                                                    __m512 (&a)[NB][MR]) {
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
            a[b][i] = _mm512_loadu_ps(acc + static_cast<size_t>(i) * ldacc + 16 * b);
    }
}

template <int MR, int NB>
__attribute__((always_inline)) inline void store_acc(float* acc,
                                                     size_t ldacc,
                                                     const __m512 (&a)[NB][MR]) {
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
            _mm512_storeu_ps(acc + static_cast<size_t>(i) * ldacc + 16 * b, a[b][i]);
    }
}

// The last kc - p0 (< 64) columns of gemv_e4m3, block after block (kept out of the main loop
// so that its accumulators stay in registers).
template <int MR, int NB>
__attribute__((noinline)) void gemv_e4m3_tail(const uint8_t* const* w,
                                              size_t p0,
                                              size_t kc,
                                              const float* x,
                                              size_t ldx,
                                              const uint8_t* table,
                                              float* acc,
                                              size_t ldacc) {
    StepTables tb = step_tables();
    set_table(tb, table);
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
        __m512 a[MR];
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
            a[i] = _mm512_loadu_ps(acc + static_cast<size_t>(i) * ldacc + 16 * b);
        for (size_t ps = p0; ps < kc; ps += 16) {
            if (kc - ps >= 16) {
                e4m3_sub<MR, false>(w + 16 * b, ps, 16, x, ldx, tb, a);
            } else {
                e4m3_sub<MR, true>(w + 16 * b, ps, kc - ps, x, ldx, tb, a);
            }
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
            _mm512_storeu_ps(acc + static_cast<size_t>(i) * ldacc + 16 * b, a[i]);
    }
}

// NB blocks of 16 rows (w[16b .. 16b + 15]) over kc columns with MR rows of x:
//   for k ascending: acc[i*ldacc + 16b + j] = acc[...] + x[i*ldx + k] * f32(W[16b + j][k])
// with W = the entry of the k's table (tables + (k/128) * table_step). The blocks are
// interleaved every 16 k so that their accumulator chains overlap (at M = 1 one chain of
// dependent adds would bound the speed).
template <int MR, int NB>
void gemv_e4m3(const uint8_t* const* w,
               size_t kc,
               const float* x,
               size_t ldx,
               const uint8_t* tables,
               size_t table_step,
               float* acc,
               size_t ldacc) {
    __m512 a[NB][MR];
    load_acc<MR, NB>(acc, ldacc, a);
    StepTables tb = step_tables();
    size_t p = 0;
    // Prefetch kPrefetchAhead bytes ahead in each row; past the end of the call's columns, the
    // same row of the next 16-row block (rows are evenly spaced, and the driver takes the blocks
    // in order), so that the next call's first lines are on their way too. A prefetch never
    // faults, so a guess past the matrix is harmless; it is computed on integers because
    // pointer arithmetic out there would be undefined.
    const uintptr_t row_step =
        reinterpret_cast<uintptr_t>(w[1]) - reinterpret_cast<uintptr_t>(w[0]);
    for (; p + 64 <= kc; p += 64) {
        set_table(tb, tables + (p / kE4m3TableBlock) * table_step);
        const size_t ahead = p + kPrefetchAhead;
        for (int j = 0; j < 16 * NB; ++j) {
            const uintptr_t next = reinterpret_cast<uintptr_t>(w[j]) +
                                   (ahead < kc ? ahead : 16 * NB * row_step + (ahead - kc));
            _mm_prefetch(reinterpret_cast<const char*>(next), kPrefetchHint);
        }
#pragma GCC unroll 1
        for (size_t sub = 0; sub < 64; sub += 16) {
#pragma GCC unroll 4
            for (int b = 0; b < NB; ++b)
                e4m3_sub<MR, false>(w + 16 * b, p + sub, 16, x, ldx, tb, a[b]);
        }
    }
    store_acc<MR, NB>(acc, ldacc, a);
    if (p < kc) {
        gemv_e4m3_tail<MR, NB>(w, p, kc, x, ldx, tables + (p / kE4m3TableBlock) * table_step, acc,
                               ldacc);
    }
}

// The interleaved layout (gemm.h, E4m3Weight): 16 rows x 16 k of codes are the four vectors q
// that e4m3_sub builds by transposition, stored in order, so the kernel below loads them directly
// from one sequential stream per 16-row block.
template <int MR, bool Tail>
__attribute__((always_inline)) inline void e4m3_sub_il(const uint8_t* wp,
                                                       size_t ps,
                                                       size_t nk,
                                                       const float* x,
                                                       size_t ldx,
                                                       const StepTables& tb,
                                                       __m512* acc) {
    const uint8_t* g = wp + 16 * ps;  // the 256 bytes of k = ps .. ps + 15
    decode_madd<MR, Tail>(_mm512_loadu_si512(g), 0, ps, nk, x, ldx, tb, acc);
    if (Tail && nk <= 4) return;
    decode_madd<MR, Tail>(_mm512_loadu_si512(g + 64), 4, ps, nk, x, ldx, tb, acc);
    if (Tail && nk <= 8) return;
    decode_madd<MR, Tail>(_mm512_loadu_si512(g + 128), 8, ps, nk, x, ldx, tb, acc);
    if (Tail && nk <= 12) return;
    decode_madd<MR, Tail>(_mm512_loadu_si512(g + 192), 12, ps, nk, x, ldx, tb, acc);
}

// How far ahead in each block's stream the interleaved codes are prefetched (bytes; measured).
constexpr size_t kIlPrefetchAhead = 4096;

// gemv_e4m3 on the interleaved layout: NB blocks of 16 rows at w + b * block_stride (each
// pointing at the call's first k), the same sums in the same order. The blocks are interleaved
// every 16 k so that their accumulator chains overlap.
template <int MR, int NB>
void gemv_e4m3_il(const uint8_t* w,
                  size_t block_stride,
                  size_t kc,
                  const float* x,
                  size_t ldx,
                  const uint8_t* tables,
                  size_t table_step,
                  float* acc,
                  size_t ldacc) {
    __m512 a[NB][MR];
    load_acc<MR, NB>(acc, ldacc, a);
    StepTables tb = step_tables();
    size_t p = 0;
    for (; p + 64 <= kc; p += 64) {
        set_table(tb, tables + (p / kE4m3TableBlock) * table_step);
        // A prefetch never faults, so running past the end of the block is harmless; the address
        // is computed on integers because pointer arithmetic out there would be undefined.
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) {
            const uintptr_t next =
                reinterpret_cast<uintptr_t>(w) + b * block_stride + 16 * p + kIlPrefetchAhead;
#pragma GCC unroll 16
            for (size_t line = 0; line < 1024; line += 64)
                _mm_prefetch(reinterpret_cast<const char*>(next + line), kPrefetchHint);
        }
#pragma GCC unroll 1
        for (size_t sub = 0; sub < 64; sub += 16) {
#pragma GCC unroll 4
            for (int b = 0; b < NB; ++b)
                e4m3_sub_il<MR, false>(w + b * block_stride, p + sub, 16, x, ldx, tb, a[b]);
        }
    }
    if (p < kc) {
        set_table(tb, tables + (p / kE4m3TableBlock) * table_step);
        for (size_t ps = p; ps < kc; ps += 16) {
#pragma GCC unroll 4
            for (int b = 0; b < NB; ++b) {
                if (kc - ps >= 16) {
                    e4m3_sub_il<MR, false>(w + b * block_stride, ps, 16, x, ldx, tb, a[b]);
                } else {
                    e4m3_sub_il<MR, true>(w + b * block_stride, ps, kc - ps, x, ldx, tb, a[b]);
                }
            }
        }
    }
    store_acc<MR, NB>(acc, ldacc, a);
}

// The interleaved layout of 16 whole rows (w[j] = row j's first code; k columns, padded with
// zero codes to a multiple of 16): the transposition of e4m3_sub, stored.
void interleave_rows(const uint8_t* const* w, size_t k, uint8_t* out) {
    for (size_t ps = 0; ps < k; ps += 16) {
        const size_t nk = k - ps < 16 ? k - ps : 16;
        __m512i a[4];
        for (int c = 0; c < 4; ++c)
            a[c] = nk == 16 ? load_lanes<false>(w, c, ps, 16) : load_lanes<true>(w, c, ps, nk);
        const __m512i u01lo = _mm512_unpacklo_epi16(a[0], a[1]);
        const __m512i u01hi = _mm512_unpackhi_epi16(a[0], a[1]);
        const __m512i u23lo = _mm512_unpacklo_epi16(a[2], a[3]);
        const __m512i u23hi = _mm512_unpackhi_epi16(a[2], a[3]);
        uint8_t* g = out + 16 * ps;
        _mm512_storeu_si512(g, _mm512_unpacklo_epi32(u01lo, u23lo));
        _mm512_storeu_si512(g + 64, _mm512_unpackhi_epi32(u01lo, u23lo));
        _mm512_storeu_si512(g + 128, _mm512_unpacklo_epi32(u01hi, u23hi));
        _mm512_storeu_si512(g + 192, _mm512_unpackhi_epi32(u01hi, u23hi));
    }
}

// Tables of bf16(f32(q) * s) for q = 0..127, one per scale: low bytes then high bytes. NaN
// results become 0x7FC0; the rest is the RNE of gemm.cpp's to_bf16 (the same as
// numerics::bf16_from_f32), lane by lane.
void build_e4m3_tables(const float* scales, size_t count, const float* e4m3_f32, uint8_t* out) {
    __m512 codes[8];
    for (int c = 0; c < 8; ++c)
        codes[c] = _mm512_loadu_ps(e4m3_f32 + 16 * c);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i round = _mm512_set1_epi32(0x7FFF);
    const __m512i nan = _mm512_set1_epi32(0x7FC0);
    for (size_t s = 0; s < count; ++s) {
        const __m512 sv = _mm512_set1_ps(scales[s]);
        uint8_t* t = out + s * kE4m3TableBytes;
        for (int c = 0; c < 8; ++c) {
            const __m512 prod = _mm512_mul_ps(codes[c], sv);
            const __m512i bits = _mm512_castps_si512(prod);
            __m512i r = _mm512_add_epi32(_mm512_add_epi32(bits, round),
                                         _mm512_and_si512(_mm512_srli_epi32(bits, 16), one));
            r = _mm512_srli_epi32(r, 16);
            r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(prod, prod, _CMP_UNORD_Q), nan);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 16 * c), _mm512_cvtepi32_epi8(r));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 128 + 16 * c),
                             _mm512_cvtepi32_epi8(_mm512_srli_epi32(r, 8)));
        }
    }
}

// In-register transpose of a 16 x 16 FP32 block: v[j] becomes what was column j.
__attribute__((always_inline)) inline void transpose16(__m512* v) {
    __m512 t[16], r[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 4; ++j) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xDD);
        }
    }
    for (int j = 0; j < 8; ++j) {
        v[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        v[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
}

// The blocked path's weight panel from BF16 rows: 16 x 16 blocks widened (<< 16) and transposed
// in registers instead of one scalar load and store per element.
void pack_bf16_panel32(const uint16_t* const* rows, size_t kc, float* dst) {
    size_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        for (int h = 0; h < 2; ++h) {
            __m512 v[16];
            for (int i = 0; i < 16; ++i) {
                const __m256i b =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[16 * h + i] + p));
                v[i] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
            }
            transpose16(v);
            for (int j = 0; j < 16; ++j)
                _mm512_storeu_ps(dst + (p + static_cast<size_t>(j)) * 32 + 16 * h, v[j]);
        }
    }
    for (; p < kc; ++p) {
        for (int h = 0; h < 2; ++h) {
            alignas(64) uint32_t bits[16];
            for (int i = 0; i < 16; ++i)
                bits[i] = static_cast<uint32_t>(rows[16 * h + i][p]) << 16;
            _mm512_storeu_ps(dst + p * 32 + 16 * h, _mm512_castsi512_ps(_mm512_load_si512(bits)));
        }
    }
}

}  // namespace

PackBf16Panel32Fn pack_bf16_panel32_avx512() {
    return &pack_bf16_panel32;
}

MicroKernel microkernel_avx512() {
    return {kMr, kNv * 16, &micro_kernel, "avx512"};
}

E4m3FusedKernels e4m3_fused_kernels_avx512() {
    // One 16-row block per call, except the interleaved kernel at M = 1, where two blocks give
    // two independent accumulator chains (measured faster; from M = 2 the rows of x supply the
    // chains and one block was faster, bench/README.md).
    return {{{&gemv_e4m3<1, 1>, 16},
             {&gemv_e4m3<2, 1>, 16},
             {&gemv_e4m3<3, 1>, 16},
             {&gemv_e4m3<4, 1>, 16},
             {&gemv_e4m3<5, 1>, 16},
             {&gemv_e4m3<6, 1>, 16},
             {&gemv_e4m3<7, 1>, 16},
             {&gemv_e4m3<8, 1>, 16},
             {&gemv_e4m3<9, 1>, 16},
             {&gemv_e4m3<10, 1>, 16},
             {&gemv_e4m3<11, 1>, 16},
             {&gemv_e4m3<12, 1>, 16},
             {&gemv_e4m3<13, 1>, 16},
             {&gemv_e4m3<14, 1>, 16},
             {&gemv_e4m3<15, 1>, 16},
             {&gemv_e4m3<16, 1>, 16}},
            {{&gemv_e4m3_il<1, 2>, 32},
             {&gemv_e4m3_il<2, 1>, 16},
             {&gemv_e4m3_il<3, 1>, 16},
             {&gemv_e4m3_il<4, 1>, 16},
             {&gemv_e4m3_il<5, 1>, 16},
             {&gemv_e4m3_il<6, 1>, 16},
             {&gemv_e4m3_il<7, 1>, 16},
             {&gemv_e4m3_il<8, 1>, 16},
             {&gemv_e4m3_il<9, 1>, 16},
             {&gemv_e4m3_il<10, 1>, 16},
             {&gemv_e4m3_il<11, 1>, 16},
             {&gemv_e4m3_il<12, 1>, 16},
             {&gemv_e4m3_il<13, 1>, 16},
             {&gemv_e4m3_il<14, 1>, 16},
             {&gemv_e4m3_il<15, 1>, 16},
             {&gemv_e4m3_il<16, 1>, 16}},
            {{&gemv_e4m3_il<1, 1>, 16},
             {&gemv_e4m3_il<2, 1>, 16},
             {&gemv_e4m3_il<3, 1>, 16},
             {&gemv_e4m3_il<4, 1>, 16},
             {&gemv_e4m3_il<5, 1>, 16},
             {&gemv_e4m3_il<6, 1>, 16},
             {&gemv_e4m3_il<7, 1>, 16},
             {&gemv_e4m3_il<8, 1>, 16},
             {&gemv_e4m3_il<9, 1>, 16},
             {&gemv_e4m3_il<10, 1>, 16},
             {&gemv_e4m3_il<11, 1>, 16},
             {&gemv_e4m3_il<12, 1>, 16},
             {&gemv_e4m3_il<13, 1>, 16},
             {&gemv_e4m3_il<14, 1>, 16},
             {&gemv_e4m3_il<15, 1>, 16},
             {&gemv_e4m3_il<16, 1>, 16}},
            &build_e4m3_tables,
            &interleave_rows,
            "avx512"};
}

}  // namespace dssim::kernels::detail
