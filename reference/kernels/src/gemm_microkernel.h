// Internal interface between the GEMM driver (gemm.cpp) and its register-blocked micro-kernels.
// Each micro-kernel is compiled in its own translation unit for one instruction set (baseline
// SSE2, or AVX2 without FMA) from the same template (gemm_microkernel.inc), so the arithmetic is
// identical and only the vector width differs.
#pragma once

#include <cstddef>

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

MicroKernel microkernel_baseline();
MicroKernel microkernel_avx2();

}  // namespace dssim::kernels::detail
