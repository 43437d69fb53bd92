// AVX-512 small-M kernels (compiled with -mavx512f/bw/vl/vbmi, no FMA contraction), selected at
// run time only on CPUs that report those features: the fused E4M3 GEMV of gemm_dequant and
// fp8_gemm. It reads 16 rows of E4M3 codes, transposes the bytes in registers so that each
// 32-bit lane is one row (one output) at one k, decodes them there with two 128-entry byte
// table lookups per scale (vpermi2b, exact for every code and every scale, because the tables
// hold bf16(f32(q) * s) computed by the scalar formula for each magnitude q) and accumulates
// acc = acc + w * x lane by lane in strictly ascending k. No BF16 copy of the weight is written.
// Only intrinsics and builtins are used here: inline code from a shared header compiled with
// AVX-512 could be picked by the linker for baseline callers.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics initialise their "undefined" operands from themselves, which
// -Wmaybe-uninitialized reports at every use (a known false positive of those headers).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "gemm_microkernel.h"

namespace dssim::kernels::detail {
namespace {

// ---- Byte transposition of 16 rows x 64 codes into 16 vectors of 4 k x 16 rows. ----
//
// vpermi2b picks 64 bytes out of two 64-byte sources (index bit 6 chooses the source). Four
// stages each merge pairs of vectors, doubling the rows and halving the k span per vector:
//   loaded  R[j]:      byte p       = (row j, k = p)
//   stage 1 (2 rows):  byte 2t + r  = (row 2a + r, k = 32h + t)
//   stage 2 (4 rows):  byte 4t + c  = (row 4b + c, k = 32h + 16g + t)
//   stage 3 (8 rows):  byte 8u + d  = (row 8B + d, k = 32h + 16g + 8f + u)
//   stage 4 (16 rows): byte 16v + j = (row j,      k = 4 * (8h + 4g + 2f + e) + v)
// Then the decoded low and high BF16 bytes of one k are spread into 32-bit lanes (bytes 2 and 3,
// bytes 0 and 1 zeroed): the FP32 bits of the BF16 weight for rows 0..15.
struct Indices {
    alignas(64) uint8_t s1[2][64];
    alignas(64) uint8_t s2[2][64];
    alignas(64) uint8_t s3[2][64];
    alignas(64) uint8_t s4[2][64];
    alignas(64) uint8_t spread[4][64];
};

constexpr Indices make_indices() {
    Indices x{};
    for (unsigned h = 0; h < 2; ++h) {
        for (unsigned t = 0; t < 32; ++t) {
            for (unsigned r = 0; r < 2; ++r)
                x.s1[h][2 * t + r] = static_cast<uint8_t>((r << 6) | (32 * h + t));
        }
        for (unsigned t = 0; t < 16; ++t) {
            for (unsigned src = 0; src < 2; ++src) {
                for (unsigned r = 0; r < 2; ++r)
                    x.s2[h][4 * t + 2 * src + r] =
                        static_cast<uint8_t>((src << 6) | (2 * (16 * h + t) + r));
            }
        }
        for (unsigned u = 0; u < 8; ++u) {
            for (unsigned src = 0; src < 2; ++src) {
                for (unsigned c = 0; c < 4; ++c)
                    x.s3[h][8 * u + 4 * src + c] =
                        static_cast<uint8_t>((src << 6) | (4 * (8 * h + u) + c));
            }
        }
        for (unsigned v = 0; v < 4; ++v) {
            for (unsigned j = 0; j < 16; ++j)
                x.s4[h][16 * v + j] =
                    static_cast<uint8_t>(((j >> 3) << 6) | (8 * (4 * h + v) + (j & 7)));
        }
    }
    for (unsigned v = 0; v < 4; ++v) {
        for (unsigned j = 0; j < 16; ++j) {
            x.spread[v][4 * j + 2] = static_cast<uint8_t>(16 * v + j);
            x.spread[v][4 * j + 3] = static_cast<uint8_t>(64 | (16 * v + j));
        }
    }
    return x;
}

constexpr Indices kIdx = make_indices();
constexpr __mmask64 kSpreadMask = 0xCCCCCCCCCCCCCCCCull;

inline __m512i load_idx(const uint8_t* p) {
    return _mm512_load_si512(p);
}

inline __m512i perm2(__m512i a, __m512i idx, __m512i b) {
    return _mm512_permutex2var_epi8(a, idx, b);
}

// How far ahead in each row the codes are prefetched (bytes; measured).
constexpr size_t kPrefetchAhead = 1024;

// One step of up to 64 k (nk of them; Tail: nk < 64 and the rows are read with masked loads) for
// 16 rows and MR rows of x. table: lo[128] | hi[128] bytes of the step's scale block.
template <int MR, bool Tail>
inline void e4m3_step(const uint8_t* const* w,
                      size_t p,
                      size_t nk,
                      const float* x,
                      size_t ldx,
                      const uint8_t* table,
                      __m512* acc) {
    __m512i r[16];
    if constexpr (Tail) {
        const __mmask64 m = (__mmask64{1} << nk) - 1;
        for (int j = 0; j < 16; ++j)
            r[j] = _mm512_maskz_loadu_epi8(m, w[j] + p);
    } else {
        for (int j = 0; j < 16; ++j) {
            _mm_prefetch(reinterpret_cast<const char*>(w[j] + p + kPrefetchAhead), _MM_HINT_T0);
            r[j] = _mm512_loadu_si512(w[j] + p);
        }
    }
    __m512i s1[8][2];
    {
        const __m512i i0 = load_idx(kIdx.s1[0]), i1 = load_idx(kIdx.s1[1]);
        for (int a = 0; a < 8; ++a) {
            s1[a][0] = perm2(r[2 * a], i0, r[2 * a + 1]);
            s1[a][1] = perm2(r[2 * a], i1, r[2 * a + 1]);
        }
    }
    __m512i s2[4][2][2];
    {
        const __m512i i0 = load_idx(kIdx.s2[0]), i1 = load_idx(kIdx.s2[1]);
        for (int b = 0; b < 4; ++b) {
            for (int h = 0; h < 2; ++h) {
                s2[b][h][0] = perm2(s1[2 * b][h], i0, s1[2 * b + 1][h]);
                s2[b][h][1] = perm2(s1[2 * b][h], i1, s1[2 * b + 1][h]);
            }
        }
    }
    __m512i s3[2][2][2][2];
    {
        const __m512i i0 = load_idx(kIdx.s3[0]), i1 = load_idx(kIdx.s3[1]);
        for (int bb = 0; bb < 2; ++bb) {
            for (int h = 0; h < 2; ++h) {
                for (int g = 0; g < 2; ++g) {
                    s3[bb][h][g][0] = perm2(s2[2 * bb][h][g], i0, s2[2 * bb + 1][h][g]);
                    s3[bb][h][g][1] = perm2(s2[2 * bb][h][g], i1, s2[2 * bb + 1][h][g]);
                }
            }
        }
    }
    const __m512i tlo0 = _mm512_load_si512(table);
    const __m512i tlo1 = _mm512_load_si512(table + 64);
    const __m512i thi0 = _mm512_load_si512(table + 128);
    const __m512i thi1 = _mm512_load_si512(table + 192);
    const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i i40 = load_idx(kIdx.s4[0]), i41 = load_idx(kIdx.s4[1]);
    for (int t = 0; t < 16; ++t) {
        if (Tail && static_cast<size_t>(4 * t) >= nk) break;
        const int h = t >> 3, g = (t >> 2) & 1, f = (t >> 1) & 1, e = t & 1;
        // Codes of k = 4t .. 4t + 3 for rows 0..15 (byte 16v + j = row j at k = 4t + v).
        const __m512i q = perm2(s3[0][h][g][f], e == 0 ? i40 : i41, s3[1][h][g][f]);
        // The table is indexed by the magnitude (index bit 7, the sign, is ignored); the sign
        // flips the result's sign bit, exact for any scale (f32(-q) * s = -(f32(q) * s)).
        const __m512i lo = perm2(tlo0, q, tlo1);
        const __m512i hi = _mm512_ternarylogic_epi32(perm2(thi0, q, thi1), q, sign, 0x78);
        for (int v = 0; v < 4; ++v) {
            const size_t k = static_cast<size_t>(4 * t + v);
            if (Tail && k >= nk) break;
            const __m512 wv = _mm512_castsi512_ps(
                _mm512_maskz_permutex2var_epi8(kSpreadMask, lo, load_idx(kIdx.spread[v]), hi));
            for (int i = 0; i < MR; ++i) {
                const __m512 xb = _mm512_set1_ps(x[static_cast<size_t>(i) * ldx + p + k]);
                acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(wv, xb));
            }
        }
    }
}

// 16 rows w[0..15] (each pointing at its first code of the call) over kc columns:
//   for k ascending: acc[i*ldacc + j] = acc[i*ldacc + j] + x[i*ldx + k] * f32(W[j][k])
// with W[j][k] = the table entry of the k's scale block (tables + (k/128) * table_step).
template <int MR>
void gemv_e4m3(const uint8_t* const* w,
               size_t kc,
               const float* x,
               size_t ldx,
               const uint8_t* tables,
               size_t table_step,
               float* acc,
               size_t ldacc) {
    __m512 a[MR];
    for (int i = 0; i < MR; ++i)
        a[i] = _mm512_loadu_ps(acc + static_cast<size_t>(i) * ldacc);
    size_t p = 0;
    for (; p + 64 <= kc; p += 64)
        e4m3_step<MR, false>(w, p, 64, x, ldx, tables + (p / kE4m3TableBlock) * table_step, a);
    if (p < kc) {
        e4m3_step<MR, true>(w, p, kc - p, x, ldx, tables + (p / kE4m3TableBlock) * table_step, a);
    }
    for (int i = 0; i < MR; ++i)
        _mm512_storeu_ps(acc + static_cast<size_t>(i) * ldacc, a[i]);
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

}  // namespace

E4m3FusedKernels e4m3_fused_kernels_avx512() {
    return {
        {&gemv_e4m3<1>, &gemv_e4m3<2>, &gemv_e4m3<3>, &gemv_e4m3<4>, &gemv_e4m3<5>, &gemv_e4m3<6>,
         &gemv_e4m3<7>, &gemv_e4m3<8>, &gemv_e4m3<9>, &gemv_e4m3<10>, &gemv_e4m3<11>,
         &gemv_e4m3<12>, &gemv_e4m3<13>, &gemv_e4m3<14>, &gemv_e4m3<15>, &gemv_e4m3<16>},
        &build_e4m3_tables,
        "avx512"};
}

}  // namespace dssim::kernels::detail
