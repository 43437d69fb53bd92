// Public header of dssim_kernels: the deterministic reference kernels (GEMM, FP8 GEMM,
// quantisation, RMSNorm, softmax, deterministic exp/sin/cos/pow, SiLU/SwiGLU, RoPE/YaRN, top-k,
// embedding). Every kernel has a written reduction order and rounding points (docs/numerics.md,
// "Kernels") and gives the same bits for any thread count. dssim/kernels/naive.h holds the plain
// twins used to prove it.
#pragma once

#include "dssim/kernels/elementwise.h"
#include "dssim/kernels/gemm.h"
#include "dssim/kernels/math.h"
#include "dssim/kernels/quant.h"
#include "dssim/kernels/rope.h"
#include "dssim/kernels/select.h"
