// Baseline (x86-64 SSE2) GEMM micro-kernel: 4 rows x 8 columns, two 4-lane vectors per row.
#include "gemm_microkernel.h"

namespace dssim::kernels::detail {
namespace {

typedef float V4 __attribute__((vector_size(16)));

#include "gemm_microkernel.inc"

constexpr int kMr = 4;
constexpr int kNv = 2;

void kernel(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
    micro_kernel_tile<kMr, kNv, V4>(kc, a, b, c, ldc, accumulate);
}

}  // namespace

MicroKernel microkernel_baseline() {
    return {kMr, kNv * 4, &kernel, "sse2"};
}

}  // namespace dssim::kernels::detail
