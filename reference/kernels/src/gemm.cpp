// GEMM drivers for the BF16/FP32 linear layer and the FP8 block-scaled GEMM.
//
// Large M: cache-blocked (BLIS loop order). Operands are converted to FP32 while packing (exact
// for BF16 and E4M3), so one FP32 micro-kernel serves every input type. The K loop is split into
// blocks only between consecutive micro-kernel calls that carry the FP32 accumulator through
// memory, which keeps every output's reduction strictly sequential in k.
//
// Small M (decode): no packing. Each call streams 32 rows of W straight from memory and
// transposes them in registers, one output per SIMD lane, so each weight byte is read once.
// E4M3 rows are decoded inside the transposed lanes by the AVX-512 kernels, or first to BF16 in
// an L1-sized buffer on AVX2/SSE2. Both drivers split the output, never K.
#include "dssim/kernels/gemm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/kernels/naive.h"
#include "gemm_microkernel.h"

namespace dssim::kernels {
namespace {

using detail::MicroKernel;

// Cache blocking. kKc * kNc floats of packed B stay in L2, kMc * kKc floats of packed A in L1/L2.
// The values change speed only, never results. kFp8Kc must be the FP8 scale block.
constexpr size_t kKc = 256;
constexpr size_t kMc = 64;
constexpr size_t kNc = 512;
constexpr size_t kFp8Kc = kFp8Block;
constexpr uint32_t kCanonicalNan = 0x7FC00000u;

// E4M3Dequant: E4M3 bytes with 128x128 block scales, widened as weight_dequant's BF16 value.
enum class Src : uint8_t { F32, BF16, E4M3, E4M3Dequant };

struct Operand {
    const void* data;
    Src type;
    const float* block_scale = nullptr;  // E4M3Dequant only: [ceil(rows/128), ceil(K/128)]
    // E4M3 only, optional: the same codes in interleave_e4m3's layout (read by the fused path).
    const uint8_t* interleaved = nullptr;
};

const float* e4m3_table() {
    static const auto table = [] {
        auto t = std::make_unique<float[]>(256);
        for (unsigned i = 0; i < 256; ++i)
            t[i] = numerics::f32_from_e4m3(static_cast<uint8_t>(i));
        return t;
    }();
    return table.get();
}

struct AlignedFloats {
    explicit AlignedFloats(size_t count) {
        size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
        data = static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64)));
        if (data == nullptr) throw std::bad_alloc();
    }
    ~AlignedFloats() { std::free(data); }
    AlignedFloats(const AlignedFloats&) = delete;
    AlignedFloats& operator=(const AlignedFloats&) = delete;
    float* data;
};

// pack_panels for a compile-time panel height R.
template <size_t R, typename T, typename Conv>
void pack_panels_fixed(
    const T* src, size_t ld, size_t r0, size_t rows, size_t k0, size_t kc, float* dst, Conv conv) {
    for (size_t pr = 0; pr < rows; pr += R) {
        float* d = dst + pr * kc;  // [kc, R]
        const size_t h = std::min(R, rows - pr);
        if (h == R) {
            // Full panel: walk k in the outer loop so every store fills one contiguous row of R.
            const T* row[R];
            for (size_t i = 0; i < R; ++i)
                row[i] = src + (r0 + pr + i) * ld + k0;
            for (size_t p = 0; p < kc; ++p) {
                for (size_t i = 0; i < R; ++i)
                    d[p * R + i] = conv(row[i][p]);
            }
            continue;
        }
        for (size_t i = 0; i < h; ++i) {
            const T* row = src + (r0 + pr + i) * ld + k0;
            for (size_t p = 0; p < kc; ++p)
                d[p * R + i] = conv(row[p]);
        }
        for (size_t i = h; i < R; ++i) {
            for (size_t p = 0; p < kc; ++p)
                d[p * R + i] = 0.0f;
        }
    }
}

// Packs rows [r0, r0 + rows) x columns [k0, k0 + kc) of a row-major [*, ld] matrix into panels
// of `r` rows: dst[panel][p][i] = src[r0 + panel*r + i][k0 + p]. Rows past the end are zero.
template <typename T, typename Conv>
void pack_panels(const T* src,
                 size_t ld,
                 size_t r0,
                 size_t rows,
                 size_t k0,
                 size_t kc,
                 size_t r,
                 float* dst,
                 Conv conv) {
    switch (r) {
        case 4:
            return pack_panels_fixed<4>(src, ld, r0, rows, k0, kc, dst, conv);
        case 8:
            return pack_panels_fixed<8>(src, ld, r0, rows, k0, kc, dst, conv);
        case 16:
            return pack_panels_fixed<16>(src, ld, r0, rows, k0, kc, dst, conv);
        case 32:
            return pack_panels_fixed<32>(src, ld, r0, rows, k0, kc, dst, conv);
        default:
            break;
    }
    for (size_t pr = 0; pr < rows; pr += r) {
        float* d = dst + pr * kc;  // [kc, r]
        size_t h = std::min(r, rows - pr);
        for (size_t i = 0; i < h; ++i) {
            const T* row = src + (r0 + pr + i) * ld + k0;
            for (size_t p = 0; p < kc; ++p)
                d[p * r + i] = conv(row[p]);
        }
        for (size_t i = h; i < r; ++i) {
            for (size_t p = 0; p < kc; ++p)
                d[p * r + i] = 0.0f;
        }
    }
}

// numerics::bf16_from_f32 (RNE, Overflow::Torch) inlined for the hot loops (formats.h).
using numerics::bf16_from_f32_fast;
using numerics::round_to_bf16_fast;

// weight_dequant's value bf16(f32(q) * scale), rows [r0, r0 + rows), into panels like pack_panels.
void pack_dequant(const Operand& op,
                  size_t ld,
                  size_t r0,
                  size_t rows,
                  size_t k0,
                  size_t kc,
                  size_t r,
                  float* dst) {
    const float* table = e4m3_table();
    const auto* src = static_cast<const uint8_t*>(op.data);
    const size_t kb = ceil_div(ld, kFp8Block);
    for (size_t pr = 0; pr < rows; pr += r) {
        float* d = dst + pr * kc;  // [kc, r]
        size_t h = std::min(r, rows - pr);
        if (h == r && r <= 32) {
            // Full panel, k outer: contiguous stores (see pack_panels_fixed).
            const uint8_t* q[32];
            const float* srow[32];
            for (size_t i = 0; i < r; ++i) {
                q[i] = src + (r0 + pr + i) * ld + k0;
                srow[i] = op.block_scale + ((r0 + pr + i) / kFp8Block) * kb;
            }
            for (size_t p = 0; p < kc; ++p) {
                const size_t blk = (k0 + p) / kFp8Block;
                for (size_t i = 0; i < r; ++i) {
                    d[p * r + i] = round_to_bf16_fast(table[q[i][p]] * srow[i][blk]);
                }
            }
            continue;
        }
        for (size_t i = 0; i < h; ++i) {
            const size_t row = r0 + pr + i;
            const uint8_t* q = src + row * ld + k0;
            const float* srow = op.block_scale + (row / kFp8Block) * kb;  // [kb]
            for (size_t p = 0; p < kc; ++p) {
                d[p * r + i] = round_to_bf16_fast(table[q[p]] * srow[(k0 + p) / kFp8Block]);
            }
        }
        for (size_t i = h; i < r; ++i) {
            for (size_t p = 0; p < kc; ++p)
                d[p * r + i] = 0.0f;
        }
    }
}

bool cpu_has_avx512();

// BF16 weight panels of the AVX-512 micro-kernel (32 wide): whole panels through the AVX-512
// transposing pack, a ragged last panel through pack_panels (the same values either way).
void pack_bf16_32_avx512(
    const uint16_t* src, size_t ld, size_t r0, size_t rows, size_t k0, size_t kc, float* dst) {
    static const detail::PackBf16Panel32Fn fast = detail::pack_bf16_panel32_avx512();
    const size_t whole = rows / 32 * 32;
    for (size_t pr = 0; pr < whole; pr += 32) {
        const uint16_t* row[32];
        for (size_t i = 0; i < 32; ++i)
            row[i] = src + (r0 + pr + i) * ld + k0;
        fast(row, kc, dst + pr * kc);
    }
    if (whole < rows) {
        pack_panels(src, ld, r0 + whole, rows - whole, k0, kc, 32, dst + whole * kc,
                    [](uint16_t v) { return std::bit_cast<float>(uint32_t{v} << 16); });
    }
}

void pack(const Operand& op,
          size_t ld,
          size_t r0,
          size_t rows,
          size_t k0,
          size_t kc,
          size_t r,
          float* dst) {
    if (op.type == Src::BF16 && r == 32 && cpu_has_avx512()) {
        return pack_bf16_32_avx512(static_cast<const uint16_t*>(op.data), ld, r0, rows, k0, kc,
                                   dst);
    }
    switch (op.type) {
        case Src::F32:
            pack_panels(static_cast<const float*>(op.data), ld, r0, rows, k0, kc, r, dst,
                        [](float v) { return v; });
            break;
        case Src::BF16:
            pack_panels(static_cast<const uint16_t*>(op.data), ld, r0, rows, k0, kc, r, dst,
                        [](uint16_t v) { return std::bit_cast<float>(uint32_t{v} << 16); });
            break;
        case Src::E4M3: {
            const float* table = e4m3_table();
            pack_panels(static_cast<const uint8_t*>(op.data), ld, r0, rows, k0, kc, r, dst,
                        [table](uint8_t v) { return table[v]; });
            break;
        }
        case Src::E4M3Dequant:
            pack_dequant(op, ld, r0, rows, k0, kc, r, dst);
            break;
    }
}

struct Fp8Scales {
    const float* a_scale;  // [M, KB]
    const float* b_scale;  // [ceil(N/128), KB]
    size_t kb;
    Fp8Promotion promotion;
};

// Promotes an mh x nw partial tile (leading dimension nr) into c (leading dimension ldc):
// the per-element formulas of Fp8Promotion, with the choice hoisted out of the loops.
template <Fp8Promotion P>
void promote_tile(const float* tile,
                  size_t nr,
                  float* c,
                  size_t ldc,
                  size_t mh,
                  size_t nw,
                  const float* a_s,  // [mh], stride a_stride
                  size_t a_stride,
                  float b_s,
                  bool accumulate) {
    for (size_t i = 0; i < mh; ++i) {
        const float as = a_s[i * a_stride];
        const float ab = as * b_s;
        float* ci = c + i * ldc;
        const float* ti = tile + i * nr;
        for (size_t j = 0; j < nw; ++j) {
            const float acc = accumulate ? ci[j] : 0.0f;
            if constexpr (P == Fp8Promotion::ScaleProductFirst) {
                ci[j] = acc + ti[j] * ab;
            } else if constexpr (P == Fp8Promotion::ScaleProductFirstFma) {
                ci[j] = std::fma(ab, ti[j], acc);
            } else {
                ci[j] = acc + (ti[j] * as) * b_s;
            }
        }
    }
}

struct Problem {
    Operand a;  // [M, K]
    Operand b;  // [N, K]
    size_t m, n, k;
    MicroKernel mk;
    const Fp8Scales* fp8;  // null for the plain GEMM
};

struct Scratch {
    explicit Scratch(const MicroKernel& mk) : a(kMc * kKc), b(kNc * kKc), tile(mk.mr * mk.nr) {}
    AlignedFloats a, b, tile;
    std::unique_ptr<float[]> c;  // FP32 staging for BF16 output, [rows, kNc]
    size_t c_rows = 0;
};

// Complete FP32 results for rows [m0, m1) x columns [n0, n1), n1 - n0 <= kNc, into c (which
// points at element (m0, n0), leading dimension ldc).
void compute_block(const Problem& pb,
                   size_t m0,
                   size_t m1,
                   size_t n0,
                   size_t n1,
                   float* c,
                   size_t ldc,
                   Scratch& s) {
    const size_t mr = pb.mk.mr;
    const size_t nr = pb.mk.nr;
    const size_t width = n1 - n0;
    if (pb.k == 0) {
        for (size_t i = 0; i < m1 - m0; ++i)
            std::fill_n(c + i * ldc, width, 0.0f);
        return;
    }
    const size_t kc_step = pb.fp8 != nullptr ? kFp8Kc : kKc;
    float* tile = s.tile.data;  // [mr, nr]
    for (size_t pc = 0; pc < pb.k; pc += kc_step) {
        const size_t kc = std::min(kc_step, pb.k - pc);
        const bool accumulate = pc > 0;
        pack(pb.b, pb.k, n0, width, pc, kc, nr, s.b.data);
        for (size_t ic = m0; ic < m1; ic += kMc) {
            const size_t mc = std::min(kMc, m1 - ic);
            pack(pb.a, pb.k, ic, mc, pc, kc, mr, s.a.data);
            for (size_t jr = 0; jr < width; jr += nr) {
                const size_t nw = std::min(nr, width - jr);
                const float* bp = s.b.data + jr * kc;
                for (size_t ir = 0; ir < mc; ir += mr) {
                    const size_t mh = std::min(mr, mc - ir);
                    const float* ap = s.a.data + ir * kc;
                    float* ct = c + (ic - m0 + ir) * ldc + jr;
                    if (pb.fp8 != nullptr) {
                        // The 128-deep partial starts from zero; promote it element by element.
                        pb.mk.fn(kc, ap, bp, tile, nr, false);
                        const Fp8Scales& f = *pb.fp8;
                        const size_t blk = pc / kFp8Block;
                        const float b_s = f.b_scale[((n0 + jr) / kFp8Block) * f.kb + blk];
                        const float* a_s = f.a_scale + (ic + ir) * f.kb + blk;
                        switch (f.promotion) {
                            case Fp8Promotion::ScaleProductFirst:
                                promote_tile<Fp8Promotion::ScaleProductFirst>(
                                    tile, nr, ct, ldc, mh, nw, a_s, f.kb, b_s, accumulate);
                                break;
                            case Fp8Promotion::ScaleProductFirstFma:
                                promote_tile<Fp8Promotion::ScaleProductFirstFma>(
                                    tile, nr, ct, ldc, mh, nw, a_s, f.kb, b_s, accumulate);
                                break;
                            case Fp8Promotion::TritonSequential:
                                promote_tile<Fp8Promotion::TritonSequential>(
                                    tile, nr, ct, ldc, mh, nw, a_s, f.kb, b_s, accumulate);
                                break;
                        }
                    } else if (mh == mr && nw == nr) {
                        pb.mk.fn(kc, ap, bp, ct, ldc, accumulate);
                    } else {
                        // Ragged edge: run the full tile on a staging copy.
                        std::fill_n(tile, mr * nr, 0.0f);
                        if (accumulate) {
                            for (size_t i = 0; i < mh; ++i) {
                                std::copy_n(ct + i * ldc, nw, tile + i * nr);
                            }
                        }
                        pb.mk.fn(kc, ap, bp, tile, nr, accumulate);
                        for (size_t i = 0; i < mh; ++i)
                            std::copy_n(tile + i * nr, nw, ct + i * ldc);
                    }
                }
            }
        }
    }
}

inline float canonical(float v) {
    return v != v ? std::bit_cast<float>(kCanonicalNan) : v;
}

void run(const Problem& pb, void* y, DType y_type, int threads) {
    if (pb.m == 0 || pb.n == 0) return;
    const size_t mr = pb.mk.mr;
    const size_t nr = pb.mk.nr;
    const size_t t = static_cast<size_t>(std::max(threads, 1));
    // Output grid: column parts first (each packs its own slice of W once per K block), then
    // row parts if there are fewer column parts than threads. Boundaries are multiples of the
    // micro-tile so no tile straddles two parts; the grid never affects any result.
    const size_t n_panels = (pb.n + nr - 1) / nr;
    const size_t m_panels = (pb.m + mr - 1) / mr;
    const size_t n_parts = std::clamp<size_t>(std::min(t, (pb.n + 63) / 64), 1, n_panels);
    const size_t m_parts = std::clamp<size_t>((t + n_parts - 1) / n_parts, 1, m_panels);
    const size_t items = n_parts * m_parts;
    parallel_for(items, threads, [&](size_t i0, size_t i1) {
        Scratch s(pb.mk);
        for (size_t item = i0; item < i1; ++item) {
            const size_t pm = item / n_parts;
            const size_t pn = item % n_parts;
            const size_t m0 = std::min(pb.m, m_panels * pm / m_parts * mr);
            const size_t m1 = std::min(pb.m, m_panels * (pm + 1) / m_parts * mr);
            const size_t n0 = std::min(pb.n, n_panels * pn / n_parts * nr);
            const size_t n1 = std::min(pb.n, n_panels * (pn + 1) / n_parts * nr);
            if (m0 >= m1 || n0 >= n1) continue;
            for (size_t jc = n0; jc < n1; jc += kNc) {
                const size_t jw = std::min(kNc, n1 - jc);
                if (y_type == DType::F32) {
                    float* c = static_cast<float*>(y) + m0 * pb.n + jc;
                    compute_block(pb, m0, m1, jc, jc + jw, c, pb.n, s);
                    for (size_t i = 0; i < m1 - m0; ++i) {
                        for (size_t j = 0; j < jw; ++j)
                            c[i * pb.n + j] = canonical(c[i * pb.n + j]);
                    }
                } else {
                    if (s.c_rows < m1 - m0) {
                        s.c = std::make_unique<float[]>((m1 - m0) * kNc);
                        s.c_rows = m1 - m0;
                    }
                    compute_block(pb, m0, m1, jc, jc + jw, s.c.get(), kNc, s);
                    uint16_t* out = static_cast<uint16_t*>(y) + m0 * pb.n + jc;
                    for (size_t i = 0; i < m1 - m0; ++i) {
                        for (size_t j = 0; j < jw; ++j) {
                            out[i * pb.n + j] = bf16_from_f32_fast(canonical(s.c[i * kNc + j]));
                        }
                    }
                }
            }
        }
    });
}

// ---- Small-M path ----

using detail::E4m3Decoder;
using detail::GemvKernels;
using detail::kGemvMaxMr;
using detail::kGemvRows;

// Largest M that takes the small-M path (per thread, see set_gemm_small_m_max), or
// kGemmSmallMAuto for the default rule (small_m_path). Results do not depend on it: every path
// computes the same sequential sums.
thread_local size_t t_small_m_max = kGemmSmallMAuto;
// K columns per small-M kernel call when the weight is decoded or x has several row groups:
// 32 rows x 512 BF16 (32 KiB) stay in L1 while every group of x rows passes over them.
constexpr size_t kGemvKc = 512;
// K columns of E4M3 weight decoded per row at a time (32 rows x 512 BF16 = 32 KiB, in L1;
// measured faster than 1024 or 4096).
// Rows of the buffer are kDecodeLd apart: one cache line more than a power of two, so the
// rows the kernel reads together fall in different L1 sets.
constexpr size_t kDecodeKc = 512;
constexpr size_t kDecodeLd = kDecodeKc + 32;
// How many row runs ahead of the decoder the E4M3 weight is prefetched (measured).
constexpr size_t kPrefetchRows = 16;
// Fused E4M3 path with M > 16: rows of x per work item (kernel calls take 16 at a time), and the
// K chunk that those calls share (32 rows x 256 codes = 8 KiB of W in L1, 64 rows x 256 FP32 =
// 64 KiB of x in L2). Measured (bench/README.md).
constexpr size_t kFusedMBlock = 64;
constexpr size_t kFusedKc = 256;
static_assert(kFusedKc % kFp8Block == 0 && kFusedMBlock % detail::kE4m3FusedMaxMr == 0,
              "fused chunks must hold whole scale blocks and whole kernel calls");
static_assert(kDecodeKc % kGemvKc == 0 && kGemvKc % kFp8Block == 0 &&
                  detail::kDecodeBlock == kFp8Block,
              "E4M3 chunks must hold whole scale blocks");

void prepare_decoder(float scale, E4m3Decoder& d) {
    d.scale = scale;
    d.e4m3_f32 = e4m3_table();
    const float mag = std::fabs(scale);
    d.fast = mag >= 0x1p-100f && mag <= 0x1p100f;  // false for NaN
    if (!d.fast) return;
    for (unsigned i = 0; i < 16; ++i) {
        // 2^e0 * (1 + m/8), exact.
        const float mant =
            (1.0f + static_cast<float>(i & 7u) / 8.0f) * ((i & 8u) != 0 ? 2.0f : 1.0f);
        const auto bits = static_cast<uint16_t>(bf16_from_f32_fast(scale * mant) - (7u << 7));
        d.lut_lo[i] = static_cast<uint8_t>(bits & 0xFFu);
        d.lut_hi[i] = static_cast<uint8_t>(bits >> 8);
    }
}

struct SmallProblem {
    const float* x;  // [M, K] FP32 (converted from BF16/E4M3 once per call)
    Operand w;       // [N, K]: F32, BF16, E4M3 (fp8_gemm) or E4M3Dequant
    size_t m, n, k;
    GemvKernels kern;
    const Fp8Scales* fp8;                   // null for the plain GEMM
    const detail::E4m3FusedKernels* fused;  // null unless the AVX-512 path is active
};

struct SmallScratch {
    explicit SmallScratch(size_t m, bool decode, bool fp8)
        : acc(m * kGemvRows),
          partial(fp8 ? m * kGemvRows : 0),
          buf(decode ? kGemvRows * kDecodeLd : 0) {}
    std::vector<float> acc;        // [M, kGemvRows] running sums
    std::vector<float> partial;    // [M, kGemvRows] fp8_gemm block partials
    std::vector<uint16_t> buf;     // [kGemvRows, kDecodeLd] decoded BF16 weight rows
    std::vector<E4m3Decoder> dec;  // per K block of row block dec_row_block (or one, scale 1)
    size_t dec_row_block = SIZE_MAX;
    // Fused path: decode tables (kE4m3TableBytes each, 64-byte aligned) for every K block of
    // 128-row block tab_row_block, or one table of scale 1 (tab_row_block == kUnitTables).
    std::vector<uint8_t> table_storage;
    size_t tab_row_block = SIZE_MAX;
    uint8_t* tables(size_t count) {
        const size_t bytes = count * detail::kE4m3TableBytes + 64;
        if (table_storage.size() < bytes) table_storage.resize(bytes);
        const auto addr = reinterpret_cast<uintptr_t>(table_storage.data());
        return table_storage.data() + ((64 - addr % 64) % 64);
    }
};
constexpr size_t kUnitTables = SIZE_MAX - 1;

template <Fp8Promotion P>
void promote_rows(const float* partial,
                  float* acc,
                  size_t m,
                  const float* a_s,  // [m], stride a_stride
                  size_t a_stride,
                  float b_s) {
    for (size_t i = 0; i < m; ++i) {
        const float as = a_s[i * a_stride];
        const float ab = as * b_s;
        for (size_t j = 0; j < kGemvRows; ++j) {
            const float t = partial[i * kGemvRows + j];
            float& c = acc[i * kGemvRows + j];
            if constexpr (P == Fp8Promotion::ScaleProductFirst) {
                c = c + t * ab;
            } else if constexpr (P == Fp8Promotion::ScaleProductFirstFma) {
                c = std::fma(ab, t, c);
            } else {
                c = c + (t * as) * b_s;
            }
        }
    }
}

// Runs the kernel over all rows of x for one K chunk.
template <typename T, typename Fn>
void gemv_chunk(
    const SmallProblem& pb, const Fn* fns, const T* const* rows, size_t k0, size_t kc, float* acc) {
    for (size_t m0 = 0; m0 < pb.m; m0 += kGemvMaxMr) {
        const size_t mr = std::min(kGemvMaxMr, pb.m - m0);
        fns[mr - 1](rows, pb.x + m0 * pb.k + k0, pb.k, kc, acc + m0 * kGemvRows);
    }
}

// Adds the fp8_gemm partials of K block blk (s.partial) into s.acc with the promotion formula.
void promote_block(const SmallProblem& pb, size_t blk, size_t row_block, SmallScratch& s) {
    const Fp8Scales& f = *pb.fp8;
    const float b_s = f.b_scale[row_block * f.kb + blk];
    const float* a_s = f.a_scale + blk;
    switch (f.promotion) {
        case Fp8Promotion::ScaleProductFirst:
            promote_rows<Fp8Promotion::ScaleProductFirst>(s.partial.data(), s.acc.data(), pb.m, a_s,
                                                          f.kb, b_s);
            break;
        case Fp8Promotion::ScaleProductFirstFma:
            promote_rows<Fp8Promotion::ScaleProductFirstFma>(s.partial.data(), s.acc.data(), pb.m,
                                                             a_s, f.kb, b_s);
            break;
        case Fp8Promotion::TritonSequential:
            promote_rows<Fp8Promotion::TritonSequential>(s.partial.data(), s.acc.data(), pb.m, a_s,
                                                         f.kb, b_s);
            break;
    }
}

// The AVX-512 E4M3 group: the fused kernel decodes the codes inside its transposed lanes with
// one table per 128-deep K block (bf16(f32(q) * scale) for gemm_dequant, f32(q) for fp8_gemm),
// 16 rows and up to 16 rows of x per call, each 16-row block over all of K at once (or per
// 128-deep block for fp8_gemm's partials). A group never straddles a 128-row scale block.
void compute_group_fused(const SmallProblem& pb, size_t n0, SmallScratch& s) {
    using detail::kE4m3FusedMaxMr;
    using detail::kE4m3FusedRows;
    using detail::kE4m3TableBytes;
    const detail::E4m3FusedKernels& fk = *pb.fused;
    const size_t rows = std::min(kGemvRows, pb.n - n0);
    std::fill(s.acc.begin(), s.acc.end(), 0.0f);
    const auto* q = static_cast<const uint8_t*>(pb.w.data);
    const size_t kb = ceil_div(pb.k, kFp8Block);
    const size_t row_block = n0 / kFp8Block;
    const bool dequant = pb.w.type == Src::E4M3Dequant;
    uint8_t* tables = s.tables(dequant ? kb : 1);
    if (dequant && s.tab_row_block != row_block) {
        fk.build_tables(pb.w.block_scale + row_block * kb, kb, e4m3_table(), tables);
        s.tab_row_block = row_block;
    } else if (!dequant && s.tab_row_block != kUnitTables) {
        const float one = 1.0f;
        fk.build_tables(&one, 1, e4m3_table(), tables);
        s.tab_row_block = kUnitTables;
    }
    const size_t table_step = dequant ? kE4m3TableBytes : 0;
    // Rows of a ragged group past the end of N repeat the first row of their 16-row block;
    // their lanes are never stored.
    const uint8_t* wr[kGemvRows];
    for (size_t j = 0; j < kGemvRows; ++j) {
        const size_t first = j - j % kE4m3FusedRows;
        wr[j] = q + (n0 + (j < rows ? j : std::min(first, rows - 1))) * pb.k;
    }
    // Interleaved layout: the group's 16-row blocks are consecutive runs of 16 * Kp bytes (rows
    // past N are zero codes there, so a ragged group only needs whole blocks).
    const size_t il_stride = kE4m3FusedRows * ceil_div(pb.k, 16) * 16;
    const uint8_t* il = pb.w.interleaved == nullptr
                            ? nullptr
                            : pb.w.interleaved + (n0 / kE4m3FusedRows) * il_stride;
    const size_t il_rows = ceil_div(rows, kE4m3FusedRows) * kE4m3FusedRows;
    auto call = [&](size_t k0, size_t kc, float* acc) {
        const uint8_t* t = tables + (dequant ? (k0 / kFp8Block) * kE4m3TableBytes : 0);
        for (size_t m0 = 0; m0 < pb.m; m0 += kE4m3FusedMaxMr) {
            const size_t mr = std::min(kE4m3FusedMaxMr, pb.m - m0);
            if (il != nullptr) {
                for (size_t r0 = 0; r0 < il_rows;) {
                    const auto& e = fk.gemv_il[mr - 1].rows <= il_rows - r0
                                        ? fk.gemv_il[mr - 1]
                                        : fk.gemv_il_one[mr - 1];
                    e.fn(il + (r0 / kE4m3FusedRows) * il_stride + 16 * k0, il_stride, kc,
                         pb.x + m0 * pb.k + k0, pb.k, t, table_step, acc + m0 * kGemvRows + r0,
                         kGemvRows);
                    r0 += e.rows;
                }
                continue;
            }
            const auto& e = fk.gemv[mr - 1];
            for (size_t r0 = 0; r0 < rows; r0 += e.rows) {
                const uint8_t* w[kGemvRows];
                for (size_t j = 0; j < e.rows; ++j)
                    w[j] = wr[r0 + j] + k0;
                e.fn(w, kc, pb.x + m0 * pb.k + k0, pb.k, t, table_step, acc + m0 * kGemvRows + r0,
                     kGemvRows);
            }
        }
    };
    if (pb.fp8 == nullptr) {
        if (pb.m <= kE4m3FusedMaxMr) return call(0, pb.k, s.acc.data());
        // Several 16-row blocks of x: K in chunks, so that the W chunk (32 rows x kFusedKc
        // codes) stays in L1 while every block of x passes over it.
        for (size_t k0 = 0; k0 < pb.k; k0 += kFusedKc) {
            // The kernel's own prefetch runs ahead within a call; across these short calls,
            // fetch the rows' chunk after next here (the hardware prefetcher sees 32 streams of
            // 256 bytes each, too short to follow).
            const size_t ahead = k0 + 2 * kFusedKc;
            if (ahead < pb.k) {
                const size_t len = std::min(kFusedKc, pb.k - ahead);
                if (il != nullptr) {
                    for (size_t r0 = 0; r0 < il_rows; r0 += kE4m3FusedRows)
                        for (size_t c = 0; c < 16 * len; c += 64)
                            __builtin_prefetch(il + (r0 / kE4m3FusedRows) * il_stride + 16 * ahead +
                                               c);
                } else {
                    for (size_t j = 0; j < rows; ++j)
                        for (size_t c = 0; c < len; c += 64)
                            __builtin_prefetch(wr[j] + ahead + c);
                }
            }
            call(k0, std::min(kFusedKc, pb.k - k0), s.acc.data());
        }
        return;
    }
    for (size_t k0 = 0; k0 < pb.k; k0 += kFp8Block) {
        const size_t kc = std::min(kFp8Block, pb.k - k0);
        std::fill(s.partial.begin(), s.partial.end(), 0.0f);
        call(k0, kc, s.partial.data());
        promote_block(pb, k0 / kFp8Block, row_block, s);
    }
}

// FP32 sums of rows [n0, n0 + kGemvRows) of W (fewer at the end of N) into s.acc.
void compute_group(const SmallProblem& pb, size_t n0, SmallScratch& s) {
    if (pb.fused != nullptr && (pb.w.type == Src::E4M3 || pb.w.type == Src::E4M3Dequant)) {
        return compute_group_fused(pb, n0, s);
    }
    const size_t rows = std::min(kGemvRows, pb.n - n0);
    std::fill(s.acc.begin(), s.acc.end(), 0.0f);
    // Missing rows of a ragged last group repeat row n0; their lanes are never stored.
    auto row_of = [&](size_t j) { return n0 + (j < rows ? j : 0); };
    if (pb.w.type == Src::F32 || pb.w.type == Src::BF16) {
        // Without decoding, one chunk covers K unless x has several row groups to share it.
        const size_t kc_step = pb.m <= kGemvMaxMr ? std::max<size_t>(pb.k, 1) : kGemvKc;
        for (size_t k0 = 0; k0 < pb.k; k0 += kc_step) {
            const size_t kc = std::min(kc_step, pb.k - k0);
            if (pb.w.type == Src::F32) {
                const float* wr[kGemvRows];
                for (size_t j = 0; j < kGemvRows; ++j)
                    wr[j] = static_cast<const float*>(pb.w.data) + row_of(j) * pb.k + k0;
                gemv_chunk(pb, pb.kern.f32, wr, k0, kc, s.acc.data());
            } else {
                const uint16_t* wr[kGemvRows];
                for (size_t j = 0; j < kGemvRows; ++j)
                    wr[j] = static_cast<const uint16_t*>(pb.w.data) + row_of(j) * pb.k + k0;
                gemv_chunk(pb, pb.kern.bf16, wr, k0, kc, s.acc.data());
            }
        }
        return;
    }
    // E4M3 weight: decode each chunk of the group's rows to BF16 (bf16(f32(q) * scale) for
    // gemm_dequant, f32(q) exactly for fp8_gemm), then the BF16 kernel. A group never straddles
    // a 128-row scale block (n0 is a multiple of 32), so one scale serves all its rows.
    const auto* q = static_cast<const uint8_t*>(pb.w.data);
    const size_t kb = ceil_div(pb.k, kFp8Block);
    const size_t row_block = n0 / kFp8Block;
    const bool dequant = pb.w.type == Src::E4M3Dequant;
    if (dequant && s.dec_row_block != row_block) {
        // Decoders for every K block of this 128-row scale block, shared by its 8 groups.
        s.dec.resize(kb);
        for (size_t b = 0; b < kb; ++b)
            prepare_decoder(pb.w.block_scale[row_block * kb + b], s.dec[b]);
        s.dec_row_block = row_block;
    } else if (!dequant && s.dec.empty()) {
        s.dec.resize(1);
        prepare_decoder(1.0f, s.dec[0]);
    }
    const uint16_t* wr[kGemvRows];
    for (size_t j = 0; j < kGemvRows; ++j)
        wr[j] = s.buf.data() + (j < rows ? j : 0) * kDecodeLd;
    for (size_t k0 = 0; k0 < pb.k; k0 += kDecodeKc) {
        const size_t dc = std::min(kDecodeKc, pb.k - k0);
        // Row by row, each a sequential run of dc bytes. The run kPrefetchRows ahead in this
        // order (the next chunk's, then the next group's, rows at the end) is prefetched: runs
        // this short leave the hardware prefetcher little to go on, and the decode stalls on
        // memory without it.
        const E4m3Decoder* dec = dequant ? s.dec.data() + k0 / kFp8Block : s.dec.data();
        for (size_t j = 0; j < rows; ++j) {
            size_t pj = j + kPrefetchRows, pk = k0, pn = n0;
            if (pj >= rows) {
                pj -= rows;
                pk += kDecodeKc;
                if (pk >= pb.k) {
                    pk = 0;
                    pn += kGemvRows;
                }
            }
            if (pn + pj < pb.n) {
                const uint8_t* ahead = q + (pn + pj) * pb.k + pk;
                const size_t len = std::min(kDecodeKc, pb.k - pk);
                for (size_t c = 0; c < len; c += 64)
                    __builtin_prefetch(ahead + c);
            }
            pb.kern.decode_e4m3(q + (n0 + j) * pb.k + k0, dc, dec, dequant ? 1 : 0,
                                s.buf.data() + j * kDecodeLd);
        }
        // The decoded rows (L1-resident) through the BF16 kernel: in 128-deep blocks for
        // fp8_gemm, in L1-sized pieces when several row groups of x share them.
        const size_t sub = pb.fp8 != nullptr ? kFp8Block : (pb.m <= kGemvMaxMr ? dc : kGemvKc);
        for (size_t s0 = 0; s0 < dc; s0 += sub) {
            const size_t len = std::min(sub, dc - s0);
            const uint16_t* wp[kGemvRows];
            for (size_t j = 0; j < kGemvRows; ++j)
                wp[j] = wr[j] + s0;
            if (pb.fp8 == nullptr) {
                gemv_chunk(pb, pb.kern.bf16_l1, wp, k0 + s0, len, s.acc.data());
                continue;
            }
            std::fill(s.partial.begin(), s.partial.end(), 0.0f);
            gemv_chunk(pb, pb.kern.bf16_l1, wp, k0 + s0, len, s.partial.data());
            promote_block(pb, (k0 + s0) / kFp8Block, row_block, s);
        }
    }
}

void run_small(const SmallProblem& pb, void* y, DType y_type, int threads) {
    if (pb.m == 0 || pb.n == 0) return;
    const size_t groups = ceil_div(pb.n, kGemvRows);
    const bool fused =
        pb.fused != nullptr && (pb.w.type == Src::E4M3 || pb.w.type == Src::E4M3Dequant);
    const bool decode =
        pb.fused == nullptr && (pb.w.type == Src::E4M3 || pb.w.type == Src::E4M3Dequant);
    // The fused kernels take any M in blocks of kFusedMBlock rows of x: a work item is one such
    // block against one group of W rows, block-major, so a thread keeps its block of x in L2
    // while the W rows stream past it (W is read once per block of x). Every output is still the
    // one sequential sum, so the split never changes a bit.
    const size_t m_block = fused ? kFusedMBlock : pb.m;
    const size_t m_blocks = ceil_div(pb.m, m_block);
    parallel_for(m_blocks * groups, threads, [&](size_t i0, size_t i1) {
        SmallScratch s(std::min(m_block, pb.m), decode, pb.fp8 != nullptr);
        SmallProblem sub = pb;
        Fp8Scales sub_scales{};
        size_t current_block = SIZE_MAX;
        for (size_t item = i0; item < i1; ++item) {
            const size_t mb = item / groups;
            const size_t m0 = mb * m_block;
            if (mb != current_block) {
                sub.x = pb.x + m0 * pb.k;
                sub.m = std::min(m_block, pb.m - m0);
                if (pb.fp8 != nullptr) {
                    sub_scales = *pb.fp8;
                    sub_scales.a_scale = pb.fp8->a_scale + m0 * pb.fp8->kb;
                    sub.fp8 = &sub_scales;
                }
                current_block = mb;
            }
            const size_t n0 = (item % groups) * kGemvRows;
            const size_t rows = std::min(kGemvRows, pb.n - n0);
            compute_group(sub, n0, s);
            for (size_t i = 0; i < sub.m; ++i) {
                const float* a = s.acc.data() + i * kGemvRows;
                if (y_type == DType::F32) {
                    float* out = static_cast<float*>(y) + (m0 + i) * pb.n + n0;
                    for (size_t j = 0; j < rows; ++j)
                        out[j] = canonical(a[j]);
                } else {
                    uint16_t* out = static_cast<uint16_t*>(y) + (m0 + i) * pb.n + n0;
                    for (size_t j = 0; j < rows; ++j)
                        out[j] = bf16_from_f32_fast(canonical(a[j]));
                }
            }
        }
    });
}

// x as FP32 [M, K] for the small-M path: the input itself when it is FP32, else a widened copy.
const float* widen_x(const void* x, Src type, size_t count, std::vector<float>& storage) {
    if (type == Src::F32) return static_cast<const float*>(x);
    storage.resize(count);
    if (type == Src::BF16) {
        const auto* b = static_cast<const uint16_t*>(x);
        for (size_t i = 0; i < count; ++i)
            storage[i] = std::bit_cast<float>(uint32_t{b[i]} << 16);
    } else {
        const float* table = e4m3_table();
        const auto* q = static_cast<const uint8_t*>(x);
        for (size_t i = 0; i < count; ++i)
            storage[i] = table[q[i]];
    }
    return storage.data();
}

thread_local SimdPath t_simd_path = SimdPath::Auto;

bool cpu_has_avx2() {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    }();
    return has;
}

// Everything gemm_kernel_avx512.cpp is compiled for (libgcc also checks that the OS saves the
// 512-bit state).
bool cpu_has_avx512() {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
               __builtin_cpu_supports("avx512vl") != 0 &&
               __builtin_cpu_supports("avx512vbmi") != 0 && cpu_has_avx2();
    }();
    return has;
}

// The path this thread's setting resolves to on this CPU.
SimdPath resolved_path() {
    switch (t_simd_path) {
        case SimdPath::Baseline:
            return SimdPath::Baseline;
        case SimdPath::Avx2:
            return cpu_has_avx2() ? SimdPath::Avx2 : SimdPath::Baseline;
        case SimdPath::Auto:
        case SimdPath::Avx512:
            break;
    }
    if (cpu_has_avx512()) return SimdPath::Avx512;
    return cpu_has_avx2() ? SimdPath::Avx2 : SimdPath::Baseline;
}

// The blocked path and the BF16/FP32 small-M kernels of the AVX-512 path are the AVX2 ones.
MicroKernel select_kernel() {
    if (resolved_path() == SimdPath::Avx512) {
        static const MicroKernel avx512 = detail::microkernel_avx512();
        return avx512;
    }
    if (resolved_path() != SimdPath::Baseline) return detail::microkernel_avx2();
    return detail::microkernel_baseline();
}

GemvKernels select_gemv() {
    if (resolved_path() != SimdPath::Baseline) return detail::gemv_kernels_avx2();
    return detail::gemv_kernels_baseline();
}

const detail::E4m3FusedKernels* select_fused() {
    static const detail::E4m3FusedKernels avx512 =
        cpu_has_avx512() ? detail::e4m3_fused_kernels_avx512() : detail::E4m3FusedKernels{};
    return resolved_path() == SimdPath::Avx512 ? &avx512 : nullptr;
}

// Whether M rows take the small-M path; fused_e4m3: the weight is E4M3 and the fused AVX-512
// kernels are active (they beat the blocked path at every M measured, gemm.h); bf16_weight: the
// weight is BF16 (its crossover on the AVX-512 path is kGemmSmallMMaxBf16Avx512).
bool small_m_path(size_t m, bool fused_e4m3, bool bf16_weight = false) {
    if (t_small_m_max != kGemmSmallMAuto) return m <= t_small_m_max;
    if (fused_e4m3) return true;
    if (bf16_weight && resolved_path() == SimdPath::Avx512) return m <= kGemmSmallMMaxBf16Avx512;
    return m <= kGemmSmallMMax;
}

// Small-M path (any M works).
void run_small_m(const Operand& x,
                 const Operand& w,
                 void* y,
                 DType y_type,
                 size_t m,
                 size_t n,
                 size_t k,
                 int threads,
                 const Fp8Scales* fp8) {
    std::vector<float> xf;
    SmallProblem pb{
        widen_x(x.data, x.type, m * k, xf), w, m, n, k, select_gemv(), fp8, select_fused()};
    run_small(pb, y, y_type, threads);
}

Src src_of(DType type, const char* what) {
    if (type == DType::F32) return Src::F32;
    if (type == DType::BF16) return Src::BF16;
    throw_input_error(
        "", what,
        "unsupported dtype " + std::string(numerics::dtype_name(type)) + " (expected f32 or bf16)");
}

void check_out(DType type, const char* what) {
    if (type != DType::F32 && type != DType::BF16) {
        throw_input_error("", what,
                          "unsupported output dtype " + std::string(numerics::dtype_name(type)) +
                              " (expected f32 or bf16)");
    }
}

}  // namespace

bool detail::avx512_active() {
    return resolved_path() == SimdPath::Avx512;
}

SimdPath set_simd_path(SimdPath path) {
    SimdPath old = t_simd_path;
    t_simd_path = path;
    return old;
}

size_t set_gemm_small_m_max(size_t m_max) {
    const size_t old = t_small_m_max;
    t_small_m_max = m_max;
    return old;
}

const char* active_simd_path_name() {
    switch (resolved_path()) {
        case SimdPath::Avx512:
            return "avx512";
        case SimdPath::Avx2:
            return "avx2";
        default:
            return "sse2";
    }
}

void gemm(const void* x,
          DType x_type,
          const void* w,
          DType w_type,
          void* y,
          DType y_type,
          size_t m,
          size_t n,
          size_t k,
          int threads) {
    Problem pb{{x, src_of(x_type, "gemm.x")},
               {w, src_of(w_type, "gemm.w")},
               m,
               n,
               k,
               select_kernel(),
               nullptr};
    check_out(y_type, "gemm.y");
    if (small_m_path(m, false, w_type == DType::BF16))
        return run_small_m(pb.a, pb.b, y, y_type, m, n, k, threads, nullptr);
    run(pb, y, y_type, threads);
}

void gemm_f32(const float* x, const float* w, float* y, size_t m, size_t n, size_t k, int threads) {
    gemm(x, DType::F32, w, DType::F32, y, DType::F32, m, n, k, threads);
}

void gemm_bf16(
    const uint16_t* x, const uint16_t* w, uint16_t* y, size_t m, size_t n, size_t k, int threads) {
    gemm(x, DType::BF16, w, DType::BF16, y, DType::BF16, m, n, k, threads);
}

size_t e4m3_interleaved_bytes(size_t n, size_t k) {
    return ceil_div(n, 16) * 16 * ceil_div(k, 16) * 16;
}

void interleave_e4m3(const uint8_t* wq, size_t n, size_t k, uint8_t* out, int threads) {
    const size_t blocks = ceil_div(n, 16), block_bytes = 16 * ceil_div(k, 16) * 16;
    const size_t whole = n / 16;
    // The fused kernels' own transposition for whole blocks (the same bytes as the formula,
    // tested); the formula for a ragged last block.
    const detail::InterleaveRowsFn fast =
        cpu_has_avx512() ? detail::e4m3_fused_kernels_avx512().interleave_rows : nullptr;
    parallel_for(blocks, threads, [&](size_t b0, size_t b1) {
        for (size_t b = b0; b < b1; ++b) {
            uint8_t* dst = out + b * block_bytes;
            if (b < whole && fast != nullptr) {
                const uint8_t* rows[16];
                for (size_t j = 0; j < 16; ++j)
                    rows[j] = wq + (16 * b + j) * k;
                fast(rows, k, dst);
            } else {
                naive::interleave_e4m3(wq + 16 * b * k, std::min<size_t>(16, n - 16 * b), k, dst);
            }
        }
    });
}

bool e4m3_interleaved_active() {
    return select_fused() != nullptr;
}

void gemm_dequant(const void* x,
                  DType x_type,
                  const uint8_t* wq,
                  const float* w_scale,
                  void* y,
                  DType y_type,
                  size_t m,
                  size_t n,
                  size_t k,
                  int threads) {
    gemm_dequant(x, x_type, E4m3Weight{wq, nullptr}, w_scale, y, y_type, m, n, k, threads);
}

void gemm_dequant(const void* x,
                  DType x_type,
                  E4m3Weight wq,
                  const float* w_scale,
                  void* y,
                  DType y_type,
                  size_t m,
                  size_t n,
                  size_t k,
                  int threads) {
    Problem pb{{x, src_of(x_type, "gemm_dequant.x")},
               {wq.codes, Src::E4M3Dequant, w_scale, wq.interleaved},
               m,
               n,
               k,
               select_kernel(),
               nullptr};
    check_out(y_type, "gemm_dequant.y");
    if (small_m_path(m, select_fused() != nullptr))
        return run_small_m(pb.a, pb.b, y, y_type, m, n, k, threads, nullptr);
    run(pb, y, y_type, threads);
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
              int threads,
              Fp8Promotion promotion) {
    fp8_gemm(xq, x_scale, E4m3Weight{wq, nullptr}, w_scale, y, y_type, m, n, k, threads, promotion);
}

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
              Fp8Promotion promotion) {
    check_out(y_type, "fp8_gemm.y");
    Fp8Scales scales{x_scale, w_scale, ceil_div(k, kFp8Block), promotion};
    Problem pb{
        {xq, Src::E4M3}, {wq.codes, Src::E4M3, nullptr, wq.interleaved}, m, n, k, select_kernel(),
        &scales};
    if (small_m_path(m, select_fused() != nullptr))
        return run_small_m(pb.a, pb.b, y, y_type, m, n, k, threads, &scales);
    run(pb, y, y_type, threads);
}

}  // namespace dssim::kernels
