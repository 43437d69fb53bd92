// AVX2 GEMM micro-kernel (compiled with -mavx2, no -mfma): 4 rows x 16 columns, two 8-lane
// vectors per row. Selected at run time only on CPUs that report AVX2.
#include "gemm_microkernel.h"

namespace dssim::kernels::detail {
namespace {

typedef float V8 __attribute__((vector_size(32)));

#include "gemm_microkernel.inc"

constexpr int kMr = 4;
constexpr int kNv = 2;

void kernel(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
    micro_kernel_tile<kMr, kNv, V8>(kc, a, b, c, ldc, accumulate);
}

}  // namespace

MicroKernel microkernel_avx2() {
    return {kMr, kNv * 8, &kernel, "avx2"};
}

}  // namespace dssim::kernels::detail
